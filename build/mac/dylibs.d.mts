// Types for ./dylibs.mjs (plain JS so that build/mac/bundle-qemu.sh can run it with Node alone).
export declare const LIB_REF: '@executable_path/../lib';

export interface LoadEntry {
  path: string;
  compatibilityVersion?: string;
  currentVersion?: string;
  weak: boolean;
}

export interface OtoolSection {
  file: string;
  arch?: string;
  id?: string;
  deps: LoadEntry[];
}

export type RefKind = 'system' | 'prefix' | 'relative' | 'foreign';

export interface CopyStep {
  from: string;
  to: string;
  kind: 'binary' | 'dylib';
  formula?: string;
}

export interface RelocationPlan {
  copies: CopyStep[];
  commands: { file: string; args: string[] }[];
  signOrder: string[];
  formulae: string[];
  system: string[];
}

export interface PlanOptions {
  rpaths?: Record<string, string[]>;
  libRef?: string;
}

export declare function looksLikeDylib(file: string): boolean;
export declare function parseOtoolL(text: string, opts?: { isDylib?: (file: string) => boolean }): OtoolSection[];
export declare function parseOtoolRpaths(text: string): string[];
export declare function classifyRef(ref: string, prefix: string): RefKind;
export declare function formulaOf(ref: string, prefix: string): string | undefined;
export declare function candidatesFor(ref: string, fromFile: string, opts: { prefix: string; rootDir: string; rpaths?: string[] }): string[];
export declare function walkClosure(
  binaries: string[],
  otoolOutputs: Record<string, string>,
  prefix: string,
  opts?: PlanOptions,
): {
  libs: Map<string, { ref: string; formula?: string }>;
  parsed: Map<string, OtoolSection>;
  missing: string[];
  system: string[];
  problems: string[];
  rewrites: { file: string; from: string; leaf: string }[];
  rootDir: string;
};
export declare function missingOutputs(binaries: string[], otoolOutputs: Record<string, string>, prefix: string, opts?: PlanOptions): string[];
export declare function planRelocation(binaries: string[], otoolOutputs: Record<string, string>, prefix: string, opts?: PlanOptions): RelocationPlan;
export declare function findAbsolutePrefixLeaks(otoolOutputs: Record<string, string>, prefix: string): { file: string; ref: string; kind: 'id' | 'load' }[];
export declare function verifyBundle(otoolOutputs: Record<string, string>, prefix: string, opts?: { libRef?: string }): string[];
export declare function qemuVersionOf(text: string): [number, number, number] | undefined;
export declare function versionAtLeast(a: number[], b: number[]): boolean;
export declare function parseOtoolMinOS(text: string): { file: string; arch?: string; minos?: string }[];
export declare function compareVersions(a: string, b: string): -1 | 0 | 1;
export declare function checkMinOS(otoolOutputs: Record<string, string>, floor: string): string[];
export declare function minimumSystemVersionOf(ymlText: string): string;

// Global setup of the `shared-vm` project (tests/vitest.integration.mts): one VM booted for the
// suites that test no boot behaviour, instead of a cold boot each. A failed boot does not throw
// here (that would stop every suite of the run): it is handed on, and each joining suite fails.
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { SHARED_VM, boot, finish, newInstance } from './harness.js';
import type { SharedVmHandle } from './harness.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const inst = newInstance('shr');
  fs.mkdirSync(path.join(inst.home, SHARED_VM.share));
  fs.mkdirSync(path.join(inst.home, SHARED_VM.readonly));
  fs.writeFileSync(path.join(inst.home, SHARED_VM.readonly, 'keep.txt'), 'read me\n');
  const handle: SharedVmHandle = { home: inst.home };
  try {
    await boot(inst, { yaml: SHARED_VM.yaml(inst.home) });
  } catch (e) {
    handle.error = (e as Error).message;
  }
  project.provide('sharedVm', handle);
  return () => finish(inst);
}

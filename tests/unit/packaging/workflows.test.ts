// The GitHub Actions workflows (.github/workflows/*.yml) cannot run here: check what can be
// checked offline — they parse, every script, npm script, Playwright config and project they name
// exists, jobs depend on jobs that exist, the Mac jobs run on Apple Silicon, and the Mac spec the
// workflow relies on is one the `electron` Playwright project runs and reads the variable the
// workflow sets.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';

const repo = path.resolve(import.meta.dirname, '../../..');
const dir = path.join(repo, '.github/workflows');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Job {
  'runs-on': string;
  needs?: string | string[];
  steps: Step[];
  env?: Record<string, string>;
  container?: { image: string; options?: string };
}
interface Workflow {
  name: string;
  on: unknown;
  jobs: Record<string, Job>;
}

const load = (f: string): Workflow => YAML.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Workflow;
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.yml')) : [];
const runs = (w: Workflow): string[] => Object.values(w.jobs).flatMap((j) => j.steps.map((s) => s.run ?? '').filter(Boolean));
const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

describe('.github/workflows', () => {
  it('has the macOS and the image-release workflows', () => {
    expect(files.sort()).toEqual(['macos.yml', 'release.yml']);
  });

  for (const f of files) {
    describe(f, () => {
      const w = load(f);

      it('names only scripts, npm scripts and Playwright configs that exist', () => {
        for (const script of runs(w)) {
          for (const m of script.matchAll(/\b(?:bash|node)\s+((?:build|tests|node_modules|bin)\/[^\s"'`;|)]+)/g)) {
            expect(fs.existsSync(path.join(repo, m[1])), `${f}: ${m[1]}`).toBe(true);
          }
          for (const m of script.matchAll(/\bnpm run ([\w:-]+)/g)) expect(pkg.scripts[m[1]], `${f}: npm run ${m[1]}`).toBeDefined();
          for (const m of script.matchAll(/playwright test -c (\S+)(?: --project (\S+))?/g)) {
            const cfg = path.join(repo, m[1]);
            expect(fs.existsSync(cfg), `${f}: ${m[1]}`).toBe(true);
            if (m[2]) expect(fs.readFileSync(cfg, 'utf8'), `${f}: project ${m[2]}`).toContain(`name: '${m[2]}'`);
          }
          for (const m of script.matchAll(/\bnpx (electron-builder|playwright|vitest|tsc)\b/g)) expect(fs.existsSync(path.join(repo, 'node_modules', '.bin', m[1])), m[1]).toBe(true);
        }
      });

      it('has jobs that need only jobs that exist, and actions pinned to a major version', () => {
        for (const [name, job] of Object.entries(w.jobs)) {
          for (const need of [job.needs ?? []].flat()) expect(Object.keys(w.jobs), `${name} needs ${need}`).toContain(need);
          for (const s of job.steps) if (s.uses) expect(s.uses, `${name}: ${s.uses}`).toMatch(/^actions\/[\w-]+@v\d+$/);
          expect(job.steps.length, name).toBeGreaterThan(0);
        }
      });

      it('builds guest images in a privileged Debian 12 container (the builder needs root and Debian tools)', () => {
        for (const [name, job] of Object.entries(w.jobs)) {
          if (!job.steps.some((s) => s.run?.includes('build/guest/build-image.sh'))) continue;
          expect(job.container, name).toEqual({ image: 'debian:12', options: '--privileged' });
          expect(job.steps.some((s) => s.run?.includes('bash build/setup-host.sh')), name).toBe(true);
        }
      });
    });
  }

  it('macos.yml: Apple Silicon runners, the app installed in /Applications, the Mac spec switched on', () => {
    const w = load('macos.yml');
    for (const name of ['mac', 'release-gate']) {
      const m = /^macos-(\d+)$/.exec(w.jobs[name]['runs-on']);
      expect(m, `${name} runs on ${w.jobs[name]['runs-on']}`).not.toBeNull();
      expect(Number(m![1]), name).toBeGreaterThanOrEqual(14); // macos-13 is Intel
    }
    const mac = w.jobs.mac;
    expect(mac.needs).toBe('guest-image');
    const e2e = mac.steps.find((s) => s.run?.includes('playwright test'))!;
    expect(e2e.env?.BERTH_E2E_MAC_APP).toBe('/Applications/Berth.app/Contents/MacOS/Berth');
    expect(mac.steps.some((s) => s.run?.includes('ditto out/mac-arm64/Berth.app /Applications/Berth.app'))).toBe(true);
    // the packed app's manifest points at the artifact, served locally: no placeholder escape
    expect(runs(w).join('\n')).not.toContain('BERTH_ALLOW_PLACEHOLDER_IMAGES');
    expect(mac.steps.some((s) => s.uses === 'actions/download-artifact@v4' && (s.with?.name as string) === 'guest-image-aarch64')).toBe(true);
    expect(w.jobs['guest-image'].steps.some((s) => s.uses === 'actions/upload-artifact@v4' && (s.with?.name as string) === 'guest-image-aarch64')).toBe(true);
    const spec = fs.readFileSync(path.join(repo, 'tests/e2e/mac-first-start.electron.smoke.spec.ts'), 'utf8');
    expect(spec).toContain('process.env.BERTH_E2E_MAC_APP');
    expect(spec).toContain('process.env.BERTH_E2E_HOME');
  });

  it('macos.yml: the release gate checks signature, entitlement, minos and published images', () => {
    const w = load('macos.yml');
    const gate = runs({ ...w, jobs: { 'release-gate': w.jobs['release-gate'] } }).join('\n');
    expect(gate).toContain('codesign --verify --deep --strict');
    expect(gate).toMatch(/codesign -d --entitlements - --xml .*qemu-system-aarch64/);
    expect(gate).toContain('com.apple.security.hypervisor');
    expect(gate).toMatch(/node build\/mac\/bundle-qemu\.mjs verify --prefix .* --out "\$app\/Contents\/Resources\/qemu"/);
    expect(gate).toMatch(/curl -sfLI/);
  });

  it('the Mac spec is one the electron Playwright project runs', async () => {
    const cfg = (await import('../../e2e/playwright.config.mjs')).default as { projects: { name: string; testMatch: RegExp }[] };
    const electron = cfg.projects.find((p) => p.name === 'electron')!;
    expect(electron.testMatch.test('tests/e2e/mac-first-start.electron.smoke.spec.ts')).toBe(true);
  });

  it('release.yml: uploads to this repository’s release and proposes the manifests', () => {
    const script = runs(load('release.yml')).join('\n');
    expect(script).toMatch(/bash build\/release-images\.sh "\$\{args\[@\]\}"/);
    expect(script).toContain('--repo "$GITHUB_REPOSITORY"');
    expect(script).toContain('gh release upload "$TAG" "$RUNNER_TEMP"/release/* --clobber');
    expect(script).toContain('gh pr create');
  });
});

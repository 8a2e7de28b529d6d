import { defineConfig } from 'vitest/config';
import { BaseSequencer } from 'vitest/node';
import type { TestSpecification } from 'vitest/node';

// Real VMs; files run one after another (2 cores: two TCG guests at once would only make both
// slow). No retries: a flaky VM test is a bug to fix, not to hide.
//
// Two projects. `own-vm`: suites about booting, stopping, suspending and faults, each with the VM
// it boots itself. `shared-vm`: suites that test no boot behaviour (ports, mounts, emulation) on one
// VM booted once by shared-vm.setup.ts, in the order below (emulation last: it restarts the VM).
// tests/run-all.sh runs the projects one after the other (`--project`), so only one VM runs at a time.
const SHARED = ['ports.test.ts', 'mounts.test.ts', 'networking-dns.test.ts', 'docker-desktop-compat.test.ts', 'ports-udp.test.ts', 'emulation.test.ts'];

/** The shared-vm suites first and in SHARED's order, then the others in vitest's usual order. */
class SharedVmFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = SHARED.findIndex((n) => f.moduleId.endsWith(`/integration/${n}`));
      return i < 0 ? SHARED.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 600_000,
    retry: 0,
    sequence: { sequencer: SharedVmFirst },
    projects: [
      {
        extends: true,
        test: {
          name: 'shared-vm',
          include: SHARED.map((n) => `tests/integration/${n}`),
          globalSetup: ['tests/integration/shared-vm.setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'own-vm',
          include: ['tests/integration/*.test.ts'],
          exclude: SHARED.map((n) => `tests/integration/${n}`),
        },
      },
    ],
  },
});

// The rungs every way up ends with: the host agent's steps (SSH → boot marker → dockerd → socket),
// then the services' onReady (the step "apply"), after their afterResume for a VM that was frozen.
import { checkAbort } from './ladder.js';
import type { Rung } from './ladder.js';

export const agentRung: Rung = {
  step: 'ssh',
  async run(s) {
    checkAbort(s);
    const { host } = s;
    await host.agentLadder(Math.max(10_000, host.startTimeoutMs - host.steps.elapsedMs()), (step) => (s.current = step));
    checkAbort(s);
  },
};

export const applyRung: Rung = {
  step: 'apply',
  async run(s) {
    const { host } = s;
    host.steps.update('apply', 'running');
    // A VM that stood still (clock) and may have had its shares unmounted for a save.
    if (s.woken) await host.afterResume();
    await host.applyGuestState(host.run()?.settings ?? s.settings);
    host.steps.update('apply', 'done');
  },
};

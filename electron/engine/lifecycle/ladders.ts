// The three ways up, as lists over the same readiness steps, tried in this order: a VM still
// running is adopted; else a saved state is resumed; else the VM boots cold. The supervisor climbs
// them with one runner (ladder.ts).
import { resumeRungs } from '../suspend/resume.js';
import { adoptRung } from './adopt.js';
import { bootRungs } from './boot.js';
import type { Rung } from './ladder.js';
import { agentRung, applyRung } from './ready.js';

export type Way = 'adopt' | 'resume' | 'boot';

export const WAYS: readonly Way[] = ['adopt', 'resume', 'boot'];

export const LADDERS: Record<Way, readonly Rung[]> = {
  adopt: [adoptRung, agentRung, applyRung],
  resume: [resumeRungs.check, resumeRungs.launch, resumeRungs.load, agentRung, applyRung],
  boot: [bootRungs.image, bootRungs.disk, bootRungs.qemu, bootRungs.kernel, agentRung, applyRung],
};

// The instance directory: its paths (../instance.ts), its state files, the one list of run files,
// the supervisor lock and the status it gives with no supervisor running.
export { checkSocketPaths, ensureInstanceDir, instancePaths } from '../instance.js';
export type { InstancePaths } from '../instance.js';
export * from './state-files.js';
export * from './run-files.js';
export * from './lock.js';
export { baseStatus, offlineStatus, pendingSteps, settingsOrUndefined } from './status.js';

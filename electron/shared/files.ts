// On-disk names inside an instance directory (docs/architecture.md lists what each is). Pure
// strings: joining is the engine's job.

export const DEFAULT_INSTANCE = 'default';
export const CACHE_DIR = '_cache';

export const FILES = {
  settings: 'berth.yaml',
  disk: 'disk.qcow2',
  /** the identity of the base image disk.qcow2 was created on: it is readable on that base only */
  diskBase: 'base.json',
  seed: 'seed.env',
  qemuPid: 'qemu.pid',
  qemuLog: 'qemu.log',
  qemuArgs: 'qemu.args.json',
  qmp: 'qmp.sock',
  /** a second QMP monitor for tools and benchmarks; the supervisor holds qmp.sock */
  qmpDebug: 'qmp-debug.sock',
  serialSock: 'serial.sock',
  /** the guest channel: QEMU's end of the virtio-serial port berth-guestd speaks on (docs/guest-channel.md) */
  guestSock: 'guest.sock',
  serialLog: 'serial.log',
  control: 'control.sock',
  docker: 'docker.sock',
  sshDir: 'ssh',
  sshKey: 'ssh/id_ed25519',
  sshHostKey: 'ssh/host_ed25519',
  sshKnownHosts: 'ssh/known_hosts',
  sshConfig: 'ssh/config',
  sshPort: 'ssh.port',
  events: 'events.jsonl',
  agentLog: 'agent.log',
  supervisorLog: 'supervisor.log',
  supervisorPid: 'supervisor.pid',
  state: 'state.json',
  /** the guest image the disk was created from */
  imageMemo: 'image.json',
  /** the saved VM state (QEMU migration stream) and the record that makes it valid */
  savedState: 'saved.vmstate',
  savedStatePartial: 'saved.vmstate.partial',
  savedRecord: 'saved.json',
  /** bumped by the engine before every QEMU launch that may write the disk */
  diskGeneration: 'disk.generation',
} as const;

/** macOS limits sun_path to 104 bytes including the NUL. */
export const MAX_SOCKET_PATH = 103;

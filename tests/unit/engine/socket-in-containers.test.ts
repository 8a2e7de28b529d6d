// The VM's Docker socket at the host-side socket path: what the guest is asked at ready, what the
// user sees when it fails, that a save unbinds it before the shares go, and the setting's validation.
import { afterAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../../electron/engine/config.js';
import { EventLog } from '../../../electron/engine/event-log.js';
import { GUEST_COMMANDS } from '../../../electron/engine/guest/index.js';
import type { ExecResult } from '../../../electron/engine/guest/index.js';
import { ensureInstanceDir, instancePaths } from '../../../electron/engine/instance/index.js';
import { SocketInContainersService } from '../../../electron/engine/services/socket-in-containers.js';
import type { Status } from '../../../electron/shared/status.js';
import { removeScratch, scratch } from './helpers/stand-ins.js';
import { serviceContext } from './helpers/service-context.js';

afterAll(removeScratch);

function setup(answer: Partial<ExecResult>) {
  const p = instancePaths('default', scratch("berth-sic-it's "));
  ensureInstanceDir(p);
  const sent: string[] = [];
  const log = new EventLog(p.events);
  const ctx = serviceContext(p, {
    exec: async (cmd) => {
      sent.push(cmd);
      return { code: 0, stdout: '', stderr: '', ...answer };
    },
    journal: (kind, data) => void log.append(kind, data),
  });
  const svc = new SocketInContainersService(ctx);
  const status = () => {
    const st = {} as Status;
    svc.status(st);
    return st.sockets?.inContainers;
  };
  return { p, svc, sent, status };
}

describe('the socket inside containers', () => {
  it('at ready the guest binds its socket at the host-side path, passed as one quoted argument', async () => {
    const { p, svc, sent, status } = setup({ stdout: 'bound\n' });
    await svc.onReady();
    expect(sent).toEqual([GUEST_COMMANDS.bindDockerSocket(p.docker)]);
    // the path (with a space and a quote in it) is the script's $1, quoted for the shell
    expect(sent[0]!.endsWith(` berth-socket '${p.docker.replace(/'/g, `'\\''`)}'`)).toBe(true);
    expect(status()).toEqual({ ok: true, path: p.docker });
  });

  it('a failure is shown with what `-v <path>:/var/run/docker.sock` will do, and journaled', async () => {
    const { p, svc, status } = setup({ code: 3, stderr: `${'x'} is missing inside a shared folder (/Users): nothing is created on the host\n` });
    await svc.onReady();
    expect(status()).toEqual({ ok: false, path: p.docker, note: `-v ${p.docker}:/var/run/docker.sock will not reach Docker: x is missing inside a shared folder (/Users): nothing is created on the host` });
    expect(EventLog.readLast(p.events).find((e) => e.kind === 'socket-bind-failed')).toMatchObject({ path: p.docker });
  });

  it('before a save the bind is undone first, then the shares are unmounted (a bind inside a share keeps it busy)', () => {
    const down = GUEST_COMMANDS.mountsDown;
    expect(down.indexOf('umount')).toBeGreaterThan(-1);
    expect(down.indexOf('umount')).toBeLessThan(down.indexOf('berth-mounts down'));
    expect(down.endsWith('berth-mounts down')).toBe(true);
  });

  it('docker.defaultSocket: false by default, a bad value named with its line', () => {
    expect(parseSettings('cpus: 2\n', 'berth.yaml').docker).toEqual({ context: true, defaultSocket: false });
    expect(parseSettings('docker:\n  defaultSocket: true\n', 'berth.yaml').docker).toEqual({ context: true, defaultSocket: true });
    expect(() => parseSettings('cpus: 2\ndocker:\n  defaultSocket: "yes"\n', 'berth.yaml')).toThrow(/docker\.defaultSocket \(line 3\): must be true or false, got "yes"/);
    expect(() => parseSettings('docker:\n  defaultsocket: true\n', 'berth.yaml')).toThrow(/docker\.defaultsocket \(line 2\): unknown key \(known: context, defaultSocket\)/);
  });
});

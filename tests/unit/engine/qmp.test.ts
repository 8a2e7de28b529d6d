// QMP framing and errors against a scripted QMP peer on a unix socket (fault injection).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from '../../../electron/engine/qmp.js';

type Handler = (cmd: { execute: string; id?: string; arguments?: unknown }, sock: net.Socket) => void;
const servers: net.Server[] = [];

async function fakeQmp(handler: Handler, greet = true): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qmp-'));
  const sockPath = path.join(dir, 'qmp.sock');
  const server = net.createServer((s) => {
    if (greet) s.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } }) + '\r\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const cmd = JSON.parse(line);
        if (cmd.execute === 'qmp_capabilities') s.write(JSON.stringify({ return: {}, id: cmd.id }) + '\r\n');
        else handler(cmd, s);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(sockPath, r));
  return sockPath;
}

afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

describe('QMP client', () => {
  it('reads the greeting, negotiates capabilities and matches replies by id', async () => {
    const p = await fakeQmp((cmd, s) => {
      // Answer out of order: the reply to the later command comes first.
      if (cmd.execute === 'slow') setTimeout(() => s.write(JSON.stringify({ return: 'slow-done', id: cmd.id }) + '\n'), 50);
      else s.write(JSON.stringify({ return: { status: 'running' }, id: cmd.id }) + '\n');
    });
    const q = await QmpClient.connect(p);
    expect((q.greeting as { version: unknown }).version).toBeTruthy();
    const [a, b] = await Promise.all([q.execute('slow'), q.execute('query-status')]);
    expect(a).toBe('slow-done');
    expect(b).toEqual({ status: 'running' });
    q.close();
  });

  it('delivers events between replies', async () => {
    const p = await fakeQmp((cmd, s) => {
      s.write(JSON.stringify({ event: 'POWERDOWN', timestamp: { seconds: 1, microseconds: 0 } }) + '\n');
      s.write(JSON.stringify({ return: {}, id: cmd.id }) + '\n');
    });
    const q = await QmpClient.connect(p);
    const events: string[] = [];
    q.on('event', (e) => events.push(e.event));
    await q.execute('system_powerdown');
    expect(events).toEqual(['POWERDOWN']);
    q.close();
  });

  it('turns a QMP error reply into a rejection naming the command', async () => {
    const p = await fakeQmp((cmd, s) => s.write(JSON.stringify({ error: { class: 'CommandNotFound', desc: 'The command nope has not been found' }, id: cmd.id }) + '\n'));
    const q = await QmpClient.connect(p);
    await expect(q.execute('nope')).rejects.toThrow(/nope: The command nope has not been found/);
    q.close();
  });

  it('times out a command that never answers, and keeps working after', async () => {
    const p = await fakeQmp((cmd, s) => {
      if (cmd.execute !== 'hang') s.write(JSON.stringify({ return: 'ok', id: cmd.id }) + '\n');
    });
    const q = await QmpClient.connect(p);
    await expect(q.execute('hang', undefined, 100)).rejects.toThrow(/hang did not answer within 100 ms/);
    await expect(q.execute('fine')).resolves.toBe('ok');
    q.close();
  });

  it('rejects every pending command when the socket closes', async () => {
    const p = await fakeQmp((_cmd, s) => setTimeout(() => s.destroy(), 20));
    const q = await QmpClient.connect(p);
    const closed = new Promise((r) => q.on('close', () => r(true)));
    const results = await Promise.allSettled([q.execute('a'), q.execute('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/closed before a answered/);
    expect(await closed).toBe(true);
    await expect(q.execute('after')).rejects.toThrow(/connection closed/);
  });

  it('fails clearly when no greeting arrives', async () => {
    const p = await fakeQmp(() => undefined, false);
    await expect(QmpClient.connect(p, 150)).rejects.toThrow(/no greeting/);
  });

  it('returns HMP text (hostfwd errors arrive as successful replies)', async () => {
    const p = await fakeQmp((cmd, s) => s.write(JSON.stringify({ return: 'Could not set up host forwarding rule\r\n', id: cmd.id }) + '\n'));
    const q = await QmpClient.connect(p);
    expect(await q.hmp('hostfwd_add tcp:127.0.0.1:1-:1')).toMatch(/Could not set up/);
    q.close();
  });
});

// berth-guestd's exec streams: /bin/sh -c in its own process group, stdout and flagged stderr, stdin from the host,
// EXIT (128+signal when killed) before CLOSE, and the host's CLOSE killing the process group.
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAgent } from './helpers/agent.js';
import { T, sessionPerTest } from './helpers/host.js';
import type { Host } from './helpers/host.js';
import type { Got } from './helpers/host.js';

beforeAll(() => void buildAgent(), 120_000);

const session = sessionPerTest();

/** Runs to the stream's CLOSE; its frames in order (CREDITs left out). */
async function run(h: Host, id: number, cmd: string, stdin?: string): Promise<Got[]> {
  expect((await h.open(id, 'x', cmd)).type).toBe(T.OPEN_OK);
  if (stdin !== undefined) {
    h.send(T.DATA, id, stdin);
    h.send(T.EOF, id);
  }
  await h.nextOn(id, T.CLOSE).then((f) => h.frames.push(f));
  return h.frames.filter((f) => f.stream === id && f.type !== T.CREDIT);
}

const text = (fr: Got[], stderr: boolean) =>
  Buffer.concat(fr.filter((f) => f.type === T.DATA && (f.flags & 1) === (stderr ? 1 : 0)).map((f) => f.payload)).toString();
const exitOf = (fr: Got[]) => fr.find((f) => f.type === T.EXIT)!.payload.readInt32BE(0);

function procState(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0]!;
  } catch {
    return null;
  }
}

describe('berth-guestd exec streams', () => {
  it('sends stdout as DATA, then EXIT 0, then CLOSE', async () => {
    const h = await session();
    const fr = await run(h, 1, 'echo hello; echo world');
    expect(text(fr, false)).toBe('hello\nworld\n');
    expect(fr.slice(-2).map((f) => f.type)).toEqual([T.EXIT, T.CLOSE]);
    expect(exitOf(fr)).toBe(0);
  });

  it('flags stderr, and reports exit code 3', async () => {
    const h = await session();
    const fr = await run(h, 2, 'echo out; echo oops >&2; exit 3');
    expect(text(fr, false)).toBe('out\n');
    expect(text(fr, true)).toBe('oops\n');
    expect(exitOf(fr)).toBe(3);
  });

  it('feeds the host’s DATA to stdin and closes it at the host’s EOF', async () => {
    const h = await session();
    const fr = await run(h, 3, 'tr a-z A-Z; echo done', 'abc\nxyz\n');
    expect(text(fr, false)).toBe('ABC\nXYZ\ndone\n');
    expect(exitOf(fr)).toBe(0);
  });

  it('reports a process killed by SIGKILL as 128+9', async () => {
    const h = await session();
    expect(exitOf(await run(h, 4, 'kill -9 $$'))).toBe(137);
  });

  it('runs the command as its own process group, and the host’s CLOSE kills the whole group', async () => {
    const h = await session();
    expect((await h.open(5, 'x', 'sleep 100 & echo $$ $!; wait')).type).toBe(T.OPEN_OK);
    await h.until(() => /\d+ \d+\n/.test(h.frames.filter((f) => f.stream === 5 && f.type === T.DATA).map((f) => f.payload).join('')), 'the pids');
    const [sh, sleep] = h.takeData(5).toString().trim().split(' ').map(Number) as [number, number];
    const pgid = Number(fs.readFileSync(`/proc/${sleep}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[2]);
    expect(pgid).toBe(sh);
    expect(pgid).not.toBe(process.pid);
    h.send(T.CLOSE, 5);
    await h.until(() => [sh, sleep].every((p) => procState(p) === null || procState(p) === 'Z'), 'the group gone');
    await new Promise((r) => setTimeout(r, 100));
    expect(h.frames.filter((f) => f.stream === 5 && f.type !== T.CREDIT)).toEqual([]); // no EXIT after CLOSE
  });
});

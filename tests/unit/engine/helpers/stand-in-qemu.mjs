#!/usr/bin/env node
// A stand-in for qemu-system-*: what the engine sees of a QEMU from outside, with no VM behind it.
// `--version` answers as QEMU 7.2 does; otherwise it serves QMP on the socket its -chardev names,
// writes its pid file, prints the initrd's marker to the serial log (unless started with
// -incoming), and runs save/load the way QEMU's exec: migration does (the command through /bin/sh).
// STAND_IN_LOAD=fail makes migrate-incoming fail as a state QEMU cannot load does; STAND_IN_START and
// STAND_IN_MARKER (below) make it fail to start or never boot.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

const args = process.argv.slice(2);
if (args[0] === '--version') {
  console.log('QEMU emulator version 7.2.0 (stand-in)');
  process.exit(0);
}
const opt = (name) => args[args.indexOf(name) + 1];
const chardev = (id) => {
  const spec = args.find((a, i) => args[i - 1] === '-chardev' && a.includes(`id=${id},`)) ?? '';
  return Object.fromEntries(spec.split(',').slice(1).map((kv) => kv.split('=')));
};
const name = (opt('-name') ?? '').split(',')[0];
const incoming = args.includes('-incoming');
const qmpPath = chardev('qmp0').path;
const serial = chardev('serial0').logfile;
// STAND_IN_START=fail: QEMU refusing its command line (it exits at once, saying why on stderr).
if (process.env.STAND_IN_START === 'fail') {
  process.stderr.write('qemu-system-x86_64: -device virtio-serial-pci: stand-in refuses to start\n');
  process.exit(1);
}
fs.writeFileSync(opt('-pidfile'), `${process.pid}\n`);
// STAND_IN_MARKER=none: a kernel that never reaches the initrd (nothing on the serial console).
if (!incoming && process.env.STAND_IN_MARKER !== 'none') fs.appendFileSync(serial, 'berth-initrd: stand-in\n');

let running = !incoming;
let migration = { status: 'none' };
const exec = (cmd, done) => spawn('/bin/sh', ['-c', cmd], { stdio: 'ignore' }).on('exit', (code) => done(code === 0));
const quit = () => setTimeout(() => process.exit(0), 20);

fs.rmSync(qmpPath, { force: true });
net
  .createServer((s) => {
    s.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } }) + '\r\n');
    let buf = '';
    s.on('error', () => undefined);
    s.on('data', (d) => {
      buf += d;
      for (let nl; (nl = buf.indexOf('\n')) >= 0; ) {
        const cmd = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        const answer = (ret) => s.write(JSON.stringify({ return: ret, id: cmd.id }) + '\r\n');
        const uri = cmd.arguments?.uri?.replace(/^exec:/, '');
        switch (cmd.execute) {
          case 'query-name':
            answer({ name });
            break;
          case 'query-status':
            answer({ status: incoming && !running ? 'inmigrate' : running ? 'running' : 'paused', running });
            break;
          case 'stop':
            running = false;
            answer({});
            break;
          case 'cont':
            running = true;
            answer({});
            break;
          case 'migrate':
            migration = { status: 'active' };
            exec(`printf 'stand-in guest memory' | ${uri}`, (ok) => (migration = ok ? { status: 'completed' } : { status: 'failed', 'error-desc': 'the writer failed' }));
            answer({});
            break;
          case 'migrate-incoming':
            migration = { status: 'active' };
            if (process.env.STAND_IN_LOAD === 'fail') {
              console.error('qemu-system-x86_64: load of migration failed: Invalid argument');
              migration = { status: 'failed', 'error-desc': 'load of migration failed: Invalid argument' };
            } else exec(`${uri} > /dev/null`, (ok) => (migration = ok ? { status: 'completed' } : { status: 'failed' }));
            answer({});
            break;
          case 'query-migrate':
            answer(migration);
            break;
          case 'system_powerdown':
          case 'quit':
            answer({});
            quit();
            break;
          default:
            answer({});
        }
      }
    });
  })
  .listen(qmpPath);

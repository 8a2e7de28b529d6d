// qemu.log: what QEMU itself printed. Each launch appends; a failure quotes only this launch's lines.
import fs from 'node:fs';

/** Where the next launch's output will begin. */
export function qemuLogMark(file: string): number {
  return fs.existsSync(file) ? fs.statSync(file).size : 0;
}

/** What QEMU printed since `offset` (without our command-line header): its last four lines, joined. */
export function qemuOutputSince(file: string, offset: number): string {
  try {
    return fs
      .readFileSync(file)
      .subarray(offset)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('--- '))
      .slice(-4)
      .join(' ');
  } catch {
    return '';
  }
}

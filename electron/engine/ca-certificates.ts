// berth.yaml caCertificates: PEM files of extra CAs for the VM. Each is read and parsed on the
// host, so a wrong path or a file without a certificate fails before anything starts, naming it.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BerthFailure } from './errors.js';
import { expandHome } from './config.js';

export interface CaBundle {
  /** the certificates only (text around the PEM blocks dropped), one after the other */
  pem: string;
  count: number;
}

const BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?\r?\n-----END CERTIFICATE-----/g;

export function resolveCaCertificates(files: string[], home: string): CaBundle {
  const blocks: string[] = [];
  files.forEach((f, i) => {
    const key = `caCertificates[${i}]`;
    const file = expandHome(f, home);
    if (!path.isAbsolute(file)) throw new BerthFailure('E_CONFIG', `${key}: ${JSON.stringify(f)} is a relative path`, 'Use an absolute path or one starting with ~/.');
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new BerthFailure(
        'E_CONFIG',
        code === 'ENOENT' ? `${key}: ${file} does not exist` : `${key}: cannot read ${file} (${code ?? (e as Error).message})`,
        'Fix the path in berth.yaml caCertificates (a PEM file with -----BEGIN CERTIFICATE-----), or remove it.',
      );
    }
    const found = text.match(BLOCK) ?? [];
    if (!found.length) {
      throw new BerthFailure('E_CONFIG', `${key}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, 'Convert it to PEM (openssl x509 -inform der -in FILE -out FILE.pem) or remove it from caCertificates.');
    }
    for (const [n, b] of found.entries()) {
      try {
        new X509Certificate(b);
      } catch (e) {
        throw new BerthFailure('E_CONFIG', `${key}: certificate ${n + 1} in ${file} cannot be parsed (${(e as Error).message})`, 'Replace the file with a valid PEM certificate, or remove it from caCertificates.');
      }
      blocks.push(b.replace(/\r\n/g, '\n'));
    }
  });
  return { pem: blocks.length ? blocks.join('\n') + '\n' : '', count: blocks.length };
}

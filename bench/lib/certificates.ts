/**
 * Self-signed certificates for the load benchmark: RSA-2048 or ECDSA P-256,
 * for localhost and 127.0.0.1, written to a directory (nginx reads files).
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { KeyType } from './load-args.ts';

export interface BenchCertificate {
  type: KeyType;
  /** What it is, for the report: `RSA-2048`, `ECDSA P-256`. */
  description: string;
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

export async function makeCertificate(type: KeyType, directory: string): Promise<BenchCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + 7 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    ...(type === 'rsa' ? { keyType: 'rsa' as const, keySize: 2048 } : { keyType: 'ec' as const, curve: 'P-256' as const }),
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: type === 'rsa' },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const certFile = join(directory, `${type}.crt`);
  const keyFile = join(directory, `${type}.key`);
  writeFileSync(certFile, pems.cert);
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  return {
    type,
    description: type === 'rsa' ? 'RSA-2048' : 'ECDSA P-256',
    cert: pems.cert,
    key: pems.private,
    certFile,
    keyFile,
  };
}

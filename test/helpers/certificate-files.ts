/**
 * The development certificate (`examples/certificate.ts`) written as
 * `cert.pem` and `key.pem` into a test's directory (the key private to the
 * user), for server modules and processes that read their certificate from
 * files, as a real deployment does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCertificate } from '../../examples/certificate.ts';

/** Writes `dir/cert.pem` and `dir/key.pem`; returns their PEM texts and paths. */
export async function writeCertificateFiles(dir: string): Promise<{ cert: string; key: string; certFile: string; keyFile: string }> {
  const { cert, key } = await loadCertificate({});
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(certFile, cert, { mode: 0o600 });
  writeFileSync(keyFile, key, { mode: 0o600 });
  return { cert, key, certFile, keyFile };
}

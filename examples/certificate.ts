/**
 * The example's certificate: PEM files named by `TLS_CACHE_CERT` and
 * `TLS_CACHE_KEY` when both are set, otherwise a self-signed development
 * certificate for localhost made on the spot (EC P-256, valid 30 days, kept
 * in memory only).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { generate } from 'selfsigned';
import { InvalidEnvironmentError } from '../lib/errors.ts';

/**
 * The variables this file reads: the runtimes are told (`applicationVariables`)
 * so that they do not warn of them as unknown `TLS_CACHE_*` settings.
 */
export const CERTIFICATE_VARIABLES: readonly string[] = ['TLS_CACHE_CERT', 'TLS_CACHE_KEY'];

/** A certificate and its key, in PEM. */
export interface Certificate {
  cert: string;
  key: string;
  /** Where it came from: `self-signed` or the certificate file's path. */
  source: string;
}

/**
 * Loads the certificate named by the environment, or makes a development one.
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) when only one
 * of the two variables is set, or a file cannot be read or is not PEM.
 */
export async function loadCertificate(env: NodeJS.ProcessEnv = process.env): Promise<Certificate> {
  const certFile = env.TLS_CACHE_CERT || undefined;
  const keyFile = env.TLS_CACHE_KEY || undefined;
  if (certFile === undefined && keyFile === undefined) return makeDevelopmentCertificate();
  if (certFile === undefined || keyFile === undefined) {
    const [missing, set] = certFile === undefined ? ['TLS_CACHE_CERT', 'TLS_CACHE_KEY'] : ['TLS_CACHE_KEY', 'TLS_CACHE_CERT'];
    throw new InvalidEnvironmentError(missing, `is not set while ${set} is; set both (PEM files) or neither (a development certificate is made)`);
  }
  return { cert: readPem('TLS_CACHE_CERT', certFile, 'CERTIFICATE'), key: readPem('TLS_CACHE_KEY', keyFile, 'PRIVATE KEY'), source: certFile };
}

/**
 * Reads the PEM files named by `TLS_CACHE_CERT` and `TLS_CACHE_KEY` now
 * (both must be set), synchronously: what a server module does as each
 * worker starts, so that a reload serves the files as they are then.
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) when a variable is missing or a file cannot be read or is not PEM.
 */
export function readCertificateFiles(env: NodeJS.ProcessEnv = process.env): Certificate {
  const certFile = env.TLS_CACHE_CERT || undefined;
  const keyFile = env.TLS_CACHE_KEY || undefined;
  if (certFile === undefined) throw new InvalidEnvironmentError('TLS_CACHE_CERT', 'is not set; set it and TLS_CACHE_KEY (PEM files)');
  if (keyFile === undefined) throw new InvalidEnvironmentError('TLS_CACHE_KEY', 'is not set; set it and TLS_CACHE_CERT (PEM files)');
  return { cert: readPem('TLS_CACHE_CERT', certFile, 'CERTIFICATE'), key: readPem('TLS_CACHE_KEY', keyFile, 'PRIVATE KEY'), source: certFile };
}

async function makeDevelopmentCertificate(): Promise<Certificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + 30 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  });
  return { cert: pems.cert, key: pems.private, source: 'self-signed' };
}

function readPem(variable: string, file: string, label: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unknown error';
    throw new InvalidEnvironmentError(variable, `cannot read ${JSON.stringify(file)} (${code})`);
  }
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text)) {
    throw new InvalidEnvironmentError(variable, `${JSON.stringify(file)} holds no PEM ${label.toLowerCase()}`);
  }
  return text;
}

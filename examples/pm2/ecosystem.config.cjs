// PM2 cluster mode: `pm2 start ecosystem.config.cjs`, then `pm2 reload tls-resumption-example` to deploy
// without downtime. PORT (default 8443) and WORKERS (default: one per core) come from the environment.
// Without APP_CERT and APP_KEY a development certificate for localhost is made once, with
// openssl, in a directory only this user can enter: every instance must serve the same certificate, or
// sessions do not cross instances.
const { execFileSync } = require('node:child_process');
const { existsSync, mkdirSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

function developmentCertificate() {
  const directory = join(tmpdir(), `tls-resumption-example-${process.getuid?.() ?? 'user'}`);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const cert = join(directory, 'cert.pem');
  const key = join(directory, 'key.pem');
  if (!existsSync(cert) || !existsSync(key)) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  }
  return { APP_CERT: cert, APP_KEY: key };
}

const certificate = process.env.APP_CERT && process.env.APP_KEY
  ? { APP_CERT: process.env.APP_CERT, APP_KEY: process.env.APP_KEY }
  : developmentCertificate();

module.exports = {
  apps: [
    {
      name: 'tls-resumption-example',
      script: join(__dirname, 'app.mjs'),
      exec_mode: 'cluster',
      instances: Number(process.env.WORKERS) || 'max',
      // In cluster mode pm2 reload replaces the next instance once this one listens (the app listens after attaching).
      listen_timeout: 10000,
      kill_timeout: 5000,
      env: { PORT: process.env.PORT || '8443', ...certificate },
    },
  ],
};

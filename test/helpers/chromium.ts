/**
 * Headless Chromium (Debian's `chromium`) as a real browser client: loads
 * one page with a fresh profile, with the flags that keep it from talking
 * to anything but the page's server, and returns what the page logs as
 * `RESULT <json>` on its console (Chromium writes console messages to
 * standard error with `--enable-logging=stderr`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-quic',
  '--disable-component-update',
  '--disable-sync',
  '--ignore-certificate-errors',
  '--enable-logging=stderr',
  '--v=0',
];

/** Loads `url` and resolves with the JSON the page logged after `RESULT `; rejects after `timeoutMs`. */
export function pageResult<T>(url: string, timeoutMs = 60_000): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), 'tls-cache-chromium-'));
  // Its own process group: Chromium starts helper processes, all ended with it.
  const browser = spawn('chromium', [...FLAGS, `--user-data-dir=${profile}`, url], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const end = (): void => {
    try {
      process.kill(-browser.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  return new Promise<T>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no RESULT from the page within ${timeoutMs} ms: ${output.slice(-1500)}`)), timeoutMs);
    browser.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const line = /"RESULT (.*)", source: /.exec(output);
      if (line === null) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line[1]) as T);
      } catch (error) {
        reject(error as Error);
      }
    });
    browser.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  }).finally(() => {
    end();
    rmSync(profile, { recursive: true, force: true });
  });
}

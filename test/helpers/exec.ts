/** Runs real command-line peers (openssl, curl) for the tests. */
import { execFile } from 'node:child_process';

export interface Executed {
  stdout: string;
  stderr: string;
  /** 0, the exit code, or 1 when it could not run or timed out. */
  code: number;
}

/** Runs `file args` with `input` on standard input; never rejects, gives up after 10 s. */
export function exec(file: string, args: string[], input = ''): Promise<Executed> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error ? Number((error as { code?: unknown }).code ?? 1) : 0 });
    });
    child.stdin?.on('error', () => {}); // a command that ignores its input may exit first
    child.stdin?.end(input);
  });
}

/** Whether `name` is a command on the PATH. */
export async function hasCommand(name: string): Promise<boolean> {
  return (await exec('sh', ['-c', `command -v ${name}`])).code === 0;
}

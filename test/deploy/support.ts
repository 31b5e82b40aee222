// Helpers of the deployment suites: a command run to its end, in an environment with nothing of the test run's own
// (no SSPX_* variables, no npm_* variables that `npm test` sets and a nested npm would take as its configuration).
import { spawn } from 'node:child_process';
import { markKind } from '../support/kinds.js';
import { CLI_PATH } from '../support/proc.js';

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** the test process's environment without SSPX_* and npm_* variables */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(SSPX_|npm_)/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** runs a program to its end (asynchronously: the test's own servers keep answering meanwhile) */
export function run(program: string, args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<Ran> {
  markKind('child-process');
  return new Promise((done, fail) => {
    const child = spawn(program, args, { cwd: opts.cwd, env: opts.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${program} ${args.join(' ')} did not finish within ${opts.timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.once('error', (err) => (clearTimeout(timer), fail(err)));
    child.once('close', (code) => (clearTimeout(timer), done({ code, stdout, stderr })));
  });
}

/** `sspx-relay ARGS` from this checkout's build (dist/collector/cli.js) */
export const runCli = (args: string[], cwd: string): Promise<Ran> => run(process.execPath, [CLI_PATH, ...args], { cwd });

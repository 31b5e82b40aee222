// Child processes of the bench: collectors run the way operators run them (`node dist/collector/cli.js serve
// --config FILE`), and the raw node:http baseline. Each is started, found by the port it prints, measured through
// /proc (peak RSS, CPU time) and stopped by its own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/ of the package: dist/bench/lib/proc.js → dist */
export const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(DIST, 'collector', 'cli.js');
export const RAW_SERVER = join(DIST, 'bench', 'raw-server.js');

const LISTENING = /listening on (http:\/\/[^\s:/]+):(\d+)/;
const CLK_TCK = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

export interface Child {
  name: string;
  pid: number;
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
  /** SIGTERM (a collector drains its buffered writes and releases its fires), then waits for the exit */
  stop(timeoutMs?: number): Promise<number | null>;
}

const children = new Set<Child>();
process.on('exit', () => {
  for (const c of children) c.child.kill('SIGKILL');
});

/** starts `node <script> <args>` and waits for its `listening on http://host:port` line */
export async function startChild(name: string, script: string, args: string[], timeoutMs = 30_000): Promise<Child> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = LISTENING.exec(out);
      if (m) (clearTimeout(timer), child.stdout!.off('data', check), resolve(Number(m[2])));
    };
    child.stdout!.on('data', check);
    void exited.then((code) => (clearTimeout(timer), reject(new Error(`${name} exited (${code}) before listening:\n${out}`))));
  });
  const c: Child = {
    name,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    async stop(timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      children.delete(c);
      return code;
    },
  };
  children.add(c);
  return c;
}

/** the collector reads only its configuration file: SSPX_* variables of the bench's environment are not passed on */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SSPX_')));
}

/** writes `config` to dir/sspx.config.json and serves it */
export function startCollector(name: string, dir: string, config: Record<string, unknown>): Promise<Child> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'sspx.config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return startChild(name, CLI, ['serve', '--config', path]);
}

/** peak resident set size (VmHWM) in bytes */
export function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** user + system CPU seconds the process has used so far */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

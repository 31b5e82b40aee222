// Child processes of the bench, and the cores they run on. Collectors run the way operators run them (`node
// dist/collector/cli.js serve --config FILE`, their log lines going to a file as a service manager would keep them),
// beside the raw node:http baseline; each is found by the port it prints, measured through /proc (peak RSS, CPU
// time) and stopped by its own pid. With taskset (util-linux) and two cores or more, the last core is the outside
// world's — the load process, the stand-in router and this process — and the servers measured get the others.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/ of the package: dist/bench/lib/proc.js → dist */
export const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(DIST, 'collector', 'cli.js');
export const RAW_SERVER = join(DIST, 'bench', 'raw-server.js');
export const LOAD_CHILD = join(DIST, 'bench', 'load.js');

const LISTENING = /listening on (http:\/\/[^\s:/]+):(\d+)/;
const CLK_TCK = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

/** the path of a program on PATH, or undefined */
export function which(program: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const TASKSET = process.platform === 'linux' ? which('taskset') : undefined;
const CORES = cpus().length;

/** where each side runs: `world` (load, router, bench) and `servers` as taskset CPU lists, or undefined unpinned */
export const PINNING: { world?: string; servers?: string; how: string } =
  TASKSET && CORES >= 2
    ? { world: String(CORES - 1), servers: CORES === 2 ? '0' : `0-${CORES - 2}`, how: `load, router and bench on core ${CORES - 1}; servers on ${CORES === 2 ? 'core 0' : `cores 0-${CORES - 2}`} (taskset)` }
    : { how: TASKSET ? 'not pinned (one core)' : 'not pinned (no taskset)' };

/** moves this process (and so the load children and the router it runs) to the world's core */
export function pinBench(): void {
  if (PINNING.world) execFileSync(TASKSET!, ['-a', '-p', '-c', PINNING.world, String(process.pid)], { stdio: 'ignore' });
}

/** a command line run on `cores` (a taskset CPU list) when pinning is available */
export function onCores(cores: string | undefined, command: string, args: string[]): [string, string[]] {
  return TASKSET && cores ? [TASKSET, ['-c', cores, command, ...args]] : [command, args];
}

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

/**
 * starts `node <script> <args>` on the servers' cores, its output going to `logFile`, and waits for its
 * `listening on http://host:port` line there
 */
export async function startChild(name: string, script: string, args: string[], logFile: string, timeoutMs = 30_000): Promise<Child> {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'w');
  const [command, argv] = onCores(PINNING.servers, process.execPath, [script, ...args]);
  const child = spawn(command, argv, { stdio: ['ignore', fd, fd], env: cleanEnv() });
  closeSync(fd);
  const output = () => readFileSync(logFile, 'utf8');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const started = Date.now();
  let port = 0;
  while (!port) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const m = LISTENING.exec(readFileSync(logFile, 'utf8').slice(0, 4096));
    if (m) port = Number(m[2]);
    else if (gone) throw new Error(`${name} exited (${child.exitCode}) before listening:\n${output().slice(0, 2000)}`);
    else if (Date.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start within ${timeoutMs} ms:\n${output().slice(0, 2000)}`);
    }
  }
  const c: Child = {
    name,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    output,
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

/** writes `config` to dir/sspx.config.json, applies the store's migrations with the CLI, and serves it */
export function startCollector(name: string, dir: string, config: Record<string, unknown>): Promise<Child> {
  const path = writeConfig(dir, config);
  return startChild(name, CLI, ['serve', '--config', path], join(dir, `${name.replace(/\W+/g, '-')}.log`));
}

export function writeConfig(dir: string, config: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'sspx.config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** `sspx-relay migrate --config FILE`: the store's schema, made the way operators make it */
export function migrate(dir: string, config: Record<string, unknown>): void {
  const [command, argv] = onCores(PINNING.servers, process.execPath, [CLI, 'migrate', '--config', writeConfig(dir, config)]);
  execFileSync(command, argv, { stdio: 'ignore', env: cleanEnv() });
}

export function startRaw(dir: string): Promise<Child> {
  return startChild('raw node:http', RAW_SERVER, [], join(dir, 'raw.log'));
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

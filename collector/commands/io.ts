// What the operator commands share: where they print, and one way to end — a failure becomes one line on stderr
// and exit code 1, and an opened store is always closed.
import type { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';

export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export const defaultIo = (): Io => ({ out: process.stdout, err: process.stderr, env: process.env });

/** one line on stderr */
export const sayTo = (io: Io) => (line: string) => void io.err.write(line + '\n');

export const NOT_MIGRATED = 'the store is not migrated to this version: run `sspx-relay migrate` first';

/** runs a command body; a thrown error is its message (a bad configuration says which key) and exit code 1 */
export async function runCommand(name: string, io: Io, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    sayTo(io)(err instanceof ConfigError ? err.message : `${name} failed: ${(err as Error).message}`);
    return 1;
  }
}

/** runCommand with the configured store open for the body, closed afterwards whatever happens */
export function withStore(name: string, configPath: string | undefined, io: Io, run: (config: Config, store: Store) => Promise<number>): Promise<number> {
  return runCommand(name, io, async () => {
    const { config } = loadConfig(configPath, io.env);
    const store = await openStore(config.store);
    try {
      return await run(config, store);
    } finally {
      await store.close();
    }
  });
}

/** registers an operator command: its own options (added by `options`), then the --config every one takes, and an
 * action that sets the exit code from `run` */
export function operatorCommand<O>(program: Command, name: string, description: string, options: (c: Command) => Command, run: (opts: O) => Promise<number>): Command {
  return options(program.command(name).description(description))
    .option('--config <path>', 'configuration file (default sspx.config.json)')
    .action(async (opts: O) => {
      process.exitCode = await run(opts);
    });
}

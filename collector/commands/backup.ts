// `sspx-relay backup PATH`: a consistent copy of the embedded SQLite store, taken while the collector serves
// (collector/store/sqlite-backup.ts says how). A PostgreSQL store has its own tools: the command says so and fails,
// so a backup script pointed at the wrong configuration never reports success.
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { describeStore } from '../store/open.js';
import { backupSqliteFile } from '../store/sqlite-backup.js';
import { defaultIo, runCommand, sayTo, type Io } from './io.js';

export const PG_DUMP_ADVICE =
  'backup copies the embedded SQLite store only; for PostgreSQL use its own tools, such as `pg_dump --format=custom` (docs/deploy.md)';

const n = (v: number) => v.toLocaleString('en-US');

export async function runBackup(dest: string, opts: { config?: string }, io: Io = defaultIo()): Promise<number> {
  return runCommand('backup', io, async () => {
    const { config } = loadConfig(opts.config, io.env);
    if (!config.store.startsWith('sqlite:')) {
      sayTo(io)(`${describeStore(config.store)}: ${PG_DUMP_ADVICE}`);
      return 1;
    }
    const source = config.store.slice('sqlite:'.length);
    const b = await backupSqliteFile(source, dest);
    io.out.write(
      `backed up ${source} to ${b.path}: ${n(b.bytes)} bytes, schema version ${b.schemaVersion}, ` +
        `${n(b.rows.touches)} touches, ${n(b.rows.conversions)} conversions, ${n(b.rows.fires)} fires (quick_check ok)\n`,
    );
    return 0;
  });
}

export function registerBackup(program: Command): Command {
  return program
    .command('backup')
    .argument('<path>', 'where to write the copy (a new file)')
    .description('write a consistent copy of the embedded SQLite store, safe while the collector serves')
    .option('--config <path>', 'configuration file (default sspx.config.json)')
    .action(async (path: string, opts: { config?: string }) => {
      process.exitCode = await runBackup(path, opts);
    });
}

#!/usr/bin/env node
// sspx-relay serve|init|fire|replay|purge|migrate|stats|reconcile|backup — every command reads the same configuration file.
import { Command } from 'commander';
import { ConfigError } from './config.js';
import { VERSION } from './paths.js';
import { registerMigrate, registerServe } from './commands/serve.js';
import { registerFire } from './commands/fire.js';
import { registerInit } from './commands/init.js';
import { registerReplay } from './commands/replay.js';
import { registerPurge } from './commands/purge.js';
import { registerStats } from './commands/stats.js';
import { registerOpenApi } from './commands/openapi.js';
import { registerReconcile } from './commands/reconcile.js';
import { registerBackup } from './commands/backup.js';

const program = new Command('sspx-relay')
  .version(VERSION)
  .description('server-side conversion pixels (sspx) for Microsoft Advertising');

registerServe(program);
registerInit(program);
registerFire(program);
registerReplay(program);
registerMigrate(program);
registerPurge(program);
registerStats(program);
registerOpenApi(program);
registerReconcile(program);
registerBackup(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});

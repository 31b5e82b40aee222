import { rmSync } from 'node:fs';
import type { Command } from 'commander';
import { describePixel, LOCAL_DATA_DIR, loadConfig } from '../config.js';
import { keyProblems, localKeys } from '../keys.js';
import { VERSION } from '../paths.js';
import { listenUrls, startCollector } from '../server.js';
import { describeStore, openStore } from '../store/open.js';

/**
 * How long a stopping collector waits, twice over: for open connections to finish their requests, then for fires in
 * flight to be answered. A service manager's stop timeout must exceed both (deploy/sspx-relay.service).
 */
export const STOP_GRACE_MS = 10_000;

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the collector (HTTP API, script, dispatcher)')
    .option('--config <path>', 'configuration file (default sspx.config.json, else the built-in sample)')
    .option('--port <port>', 'listen on this port instead of the configured one', (v) => Number(v))
    .action(async (opts: { config?: string; port?: number }) => {
      const { config, source, builtIn } = loadConfig(opts.config);
      if (opts.port !== undefined) config.port = opts.port;
      // the local setup mints its keys on first start and keeps them in ./data
      const local = builtIn ? localKeys(LOCAL_DATA_DIR) : undefined;
      if (local) config.keys = local.keys;
      const problems = keyProblems(config.keys);
      if (problems.length) {
        console.error(`sspx-relay will not start with these keys:\n${problems.map((p) => `  ${p}`).join('\n')}`);
        process.exit(2);
      }
      let collector;
      try {
        collector = await startCollector({ config });
      } catch (e) {
        // keys minted on this start were never printed: take them back, so the next start mints and prints new ones
        if (local?.created) rmSync(local.path, { force: true });
        const err = e as NodeJS.ErrnoException;
        if (err.code !== 'EADDRINUSE') throw e;
        console.error(`sspx-relay: port ${config.port} on ${config.host ?? 'every interface'} is taken by another program: stop it, or start on another port with --port N (or SSPX_PORT)`);
        process.exit(1);
      }
      const keys = Object.entries(config.keys).filter(([, k]) => k.length).map(([role]) => role);
      // what the server really listens on, not what the configuration asked for
      const { listening, local: base, wildcard } = listenUrls(collector.address);
      console.log(
        [
          `sspx-relay ${VERSION} listening on ${listening}${wildcard ? ` (every interface; from this machine ${base})` : ''}`,
          `  configuration: ${source}`,
          `  store:         ${describeStore(config.store)}`,
          `  router:        ${config.router}${config.dry_run ? ' (dry run: fires are recorded with their URL and transcript, never sent)' : ''}`,
          `  sites:         ${config.sites.map((s) => s.origin).join(', ') || 'none'}`,
          `  pixels:        ${Object.keys(config.pixels).length ? '' : 'none'}`.trimEnd(),
          ...Object.entries(config.pixels).map(([n, p]) => `    ${describePixel(n, p)}`),
          `  keys:          ${keys.length ? keys.join(', ') : 'none: the /v1 routes refuse every request until keys are configured'}`,
          `  script:        ${base}/sspx.js`,
          `  dashboard:     ${base}/admin`,
        ].join('\n'),
      );
      if (local?.created) {
        console.log(
          [
            `  new keys, kept in ${local.path} (printed this once):`,
            `    admin key:   ${local.keys.admin[0]}   (dashboard login, /v1/fires)`,
            `    server key:  ${local.keys.server[0]}   (POST /v1/touches, /v1/conversions)`,
            `    app key:     ${local.keys.app[0]}   (POST /v1/app/open)`,
          ].join('\n'),
        );
      } else if (local) console.log(`  key file:      ${local.path}`);
      if (builtIn) console.log('  go live:       npx sspx-relay init --pixel purchase=<your pixel id> --site https://<your shop> --public-url https://<this collector>, then restart');
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        collector.ctx.log.info({ msg: 'stopping', signal });
        await collector.close(STOP_GRACE_MS);
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
    });
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending store migrations')
    .option('--config <path>', 'configuration file')
    .action(async (opts: { config?: string }) => {
      const { config } = loadConfig(opts.config);
      const store = await openStore(config.store);
      const applied = await store.migrate();
      await store.close();
      console.log(applied.length ? `applied migrations ${applied.join(', ')} to ${describeStore(config.store)}` : `${describeStore(config.store)} is up to date`);
    });
}

// `sspx-relay openapi [--config PATH] [--out PATH]` prints the OpenAPI document (or writes it); run directly
// (`npx tsx collector/commands/openapi.ts`) it rewrites the committed openapi.json at the package root.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { openApiText } from '../openapi.js';
import { packageRoot } from '../paths.js';

export const OPENAPI_PATH = join(packageRoot, 'openapi.json');

export function writeOpenApi(path = OPENAPI_PATH): void {
  writeFileSync(path, openApiText());
}

export function registerOpenApi(program: Command): void {
  program
    .command('openapi')
    .description('print the OpenAPI 3.1 document of the HTTP API')
    .option('--out <path>', 'write it to this file instead')
    // every command takes --config (README); the document does not depend on it, but a bad file is still named
    .option('--config <path>', 'configuration file (checked; the document is the same for every configuration)')
    .action((opts: { out?: string; config?: string }) => {
      if (opts.config) loadConfig(opts.config);
      if (opts.out) writeOpenApi(opts.out);
      else process.stdout.write(openApiText());
    });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeOpenApi();
  console.log(`wrote ${OPENAPI_PATH}`);
}

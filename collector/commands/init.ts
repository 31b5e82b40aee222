// `sspx-relay init`: writes a real sspx.config.json — Microsoft's router, fresh random keys, the operator's pixels
// and sites — from flags, or by asking when run in a terminal. Refuses to overwrite a file without --force.
import { existsSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { ConfigError, DEFAULT_CONFIG_PATH, MICROSOFT_ROUTER, parseConfig, type ConfigInput } from '../config.js';
import { newRoleKeys } from '../keys.js';
import { defaultIo, runCommand, sayTo, type Io } from './io.js';

export interface InitOptions {
  config?: string;
  /** `name=id`, such as purchase=59633 */
  pixel?: string[];
  site?: string[];
  publicUrl?: string;
  force?: boolean;
  /** answers for what the flags left out; by default a terminal prompt when stdin is one */
  ask?: (question: string) => Promise<string>;
}

const PIXEL_ARG = /^([\w.-]{1,64})=(\d{1,12})$/;

function pixelsOf(args: string[]): ConfigInput['pixels'] {
  const pixels: NonNullable<ConfigInput['pixels']> = {};
  for (const arg of args) {
    const m = PIXEL_ARG.exec(arg.trim());
    if (!m) throw new ConfigError(`--pixel ${arg}: must be name=id, such as purchase=59633 (the id from the pixel's tracking code)`);
    pixels[m[1]] = { id: Number(m[2]), trigger_type: 'hybrid', sources: ['browser', 'server', 'app'] };
  }
  return pixels;
}

const list = (answer: string) => answer.split(/[\s,]+/).filter(Boolean);

/** the file's text: valid JSON, its explanations in "$comment" (the configuration ignores that key) */
export function initConfig(opts: { pixels: string[]; sites: string[]; publicUrl?: string }): ConfigInput {
  const config: ConfigInput = {
    $comment: [
      'Written by `sspx-relay init`. The keys are those of sspx.config.example.json; see the README (Configuration).',
      'keys: server for POST /v1/touches and /v1/conversions, app for POST /v1/app/open, admin for /admin and /v1/fires. Keep them secret.',
      'router is Microsoft\'s: fires are sent for real. Set "dry_run": true to record them without sending.',
    ],
    port: 8080,
    ...(opts.publicUrl ? { public_url: opts.publicUrl } : {}),
    store: 'sqlite:./data/sspx.db',
    router: MICROSOFT_ROUTER,
    sites: opts.sites.map((origin) => ({ origin })),
    token_params: ['sspdata'],
    pixels: pixelsOf(opts.pixels),
    keys: newRoleKeys(),
  };
  parseConfig(config); // the same checks serve makes, so init never writes a file serve refuses
  return config;
}

export async function runInit(opts: InitOptions, io: Io = defaultIo()): Promise<number> {
  return runCommand('init', io, async () => {
    const path = opts.config ?? DEFAULT_CONFIG_PATH;
    if (existsSync(path) && !opts.force) {
      sayTo(io)(`${path} exists; not overwriting it (use --force to replace it, keys included)`);
      return 1;
    }
    let pixels = opts.pixel ?? [];
    let sites = opts.site ?? [];
    let publicUrl = opts.publicUrl;
    const ask = opts.ask ?? (process.stdin.isTTY ? terminalPrompt() : undefined);
    if (ask) {
      if (!pixels.length) pixels = list(await ask('pixels, as name=id (such as purchase=59633), separated by spaces: '));
      if (!sites.length) sites = list(await ask('landing page origins (such as https://shop.example), separated by spaces: '));
      publicUrl ??= (await ask('public URL of this collector (such as https://collect.shop.example; empty for none): ')).trim() || undefined;
    }
    if (!pixels.length) throw new ConfigError('no pixel: give --pixel name=id (such as --pixel purchase=59633)');
    if (!sites.length) throw new ConfigError('no site: give --site https://your.shop (the origin of your landing pages)');
    const config = initConfig({ pixels, sites, publicUrl });
    writeFileSync(path, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
    io.out.write(`wrote ${path}: router ${MICROSOFT_ROUTER}, pixels ${pixels.join(', ')}, sites ${sites.join(', ')}, fresh keys\nstart it with: npx sspx-relay serve\n`);
    return 0;
  });
}

function terminalPrompt(): (q: string) => Promise<string> {
  return async (q) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(q);
    } finally {
      rl.close();
    }
  };
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a real sspx.config.json: Microsoft\'s router, fresh random keys, your pixels and sites')
    .option('--config <path>', 'where to write it', DEFAULT_CONFIG_PATH)
    .option('--pixel <name=id>', 'a pixel, such as purchase=59633 (repeatable)', collect)
    .option('--site <origin>', 'a landing page origin, such as https://shop.example (repeatable)', collect)
    .option('--public-url <url>', 'the collector\'s public URL, such as https://collect.shop.example')
    .option('--force', 'overwrite an existing file')
    .action(async (opts: InitOptions) => {
      process.exitCode = await runInit(opts);
    });
}

// A real Chromium for end-to-end tests, driven by playwright-core, headless, with a fresh temporary profile
// per launch (no state leaks between tests) and everything that phones home switched off. The binary is the
// one test/support/global-setup.ts found (CHROMIUM_PATH, the @sparticuz/chromium devDependency, or an
// installed Chrome). Usage: `const { context, close } = await launchChromium(); const page = await context.newPage();`
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type LaunchOptions } from 'playwright-core';
import { inject } from 'vitest';
import { markKind } from './kinds.js';

/**
 * Our own flags only: never the npm package's `args`, which turn off web security (CORS), and the browser
 * tests check CORS.
 */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox', // tests run as root in CI
  '--disable-gpu',
  '--no-zygote',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LaunchedChromium {
  context: BrowserContext;
  /** closes the browser and removes its temporary profile */
  close(): Promise<void>;
}

/** launches headless Chromium with a fresh profile */
export async function launchChromium(options: Omit<LaunchOptions, 'executablePath'> = {}): Promise<LaunchedChromium> {
  markKind('chromium');
  const profile = await mkdtemp(join(tmpdir(), 'sspx-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      headless: true,
      timeout: 60_000,
      ...options,
      executablePath: inject('chromiumPath'),
      args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
    });
  } catch (e) {
    await rm(profile, { recursive: true, force: true });
    throw e;
  }
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

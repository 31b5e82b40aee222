// A real Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by playwright-core, headless,
// with a fresh temporary profile per launch (no state leaks between tests) and everything that phones home
// switched off. Usage: `const { context, close } = await launchChromium(); const page = await context.newPage();`
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type LaunchOptions } from 'playwright-core';

/** where the browser lives; CHROMIUM_PATH overrides it for machines that keep it elsewhere */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** SSPX_SKIP_BROWSER=1 skips the real-browser suites; without it a missing Chromium fails them loudly */
export const skipBrowser = process.env.SSPX_SKIP_BROWSER === '1';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox', // tests run as root in CI
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const hasChromium = (): boolean => existsSync(CHROMIUM_PATH);

export interface LaunchedChromium {
  context: BrowserContext;
  /** closes the browser and removes its temporary profile */
  close(): Promise<void>;
}

/** launches headless Chromium with a fresh profile; throws with instructions when it is not installed */
export async function launchChromium(options: Omit<LaunchOptions, 'executablePath'> = {}): Promise<LaunchedChromium> {
  if (!hasChromium())
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install chromium), set CHROMIUM_PATH, ` +
        'or set SSPX_SKIP_BROWSER=1 to skip the real-browser tests',
    );
  const profile = await mkdtemp(join(tmpdir(), 'sspx-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      headless: true,
      timeout: 60_000,
      ...options,
      executablePath: CHROMIUM_PATH,
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

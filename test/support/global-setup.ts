// Once per `npm test`, in the main vitest process: finds the real Chromium and starts the real PostgreSQL
// the suites use, and hands both to the test workers (`inject('chromiumPath')`, `inject('pgUrl')`).
// - Chromium: CHROMIUM_PATH when set; on Linux the headless Chromium shipped in the @sparticuz/chromium
//   devDependency (unpacked once into the temp dir); elsewhere an installed Chrome/Chromium.
// - PostgreSQL: SSPX_TEST_PG_URL when set; otherwise a server from the embedded-postgres devDependency, in a
//   new temp dir on a free port, stopped (and its directory removed) when the run ends.
// A part that cannot be had fails the run with what to do; nothing is skipped.
import { existsSync } from 'node:fs';
import { platform, tmpdir } from 'node:os';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../bench/lib/embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    chromiumPath: string;
    pgUrl: string;
  }
}

/** where Chrome or Chromium is usually installed, for systems the npm package has no build for */
const INSTALLED_BROWSERS: Partial<Record<NodeJS.Platform, string[]>> = {
  darwin: [
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
  ],
  win32: [
    `${process.env.PROGRAMFILES ?? 'C:\\Program Files'}\\Google\\Chrome\\Application\\chrome.exe`,
    `${process.env['PROGRAMFILES(X86)'] ?? 'C:\\Program Files (x86)'}\\Google\\Chrome\\Application\\chrome.exe`,
    `${process.env.LOCALAPPDATA ?? ''}\\Google\\Chrome\\Application\\chrome.exe`,
  ],
  linux: ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'],
};

async function findChromium(): Promise<string> {
  const given = process.env.CHROMIUM_PATH;
  if (given) {
    if (!existsSync(given)) throw new Error(`CHROMIUM_PATH=${given} does not exist: point it at a Chrome or Chromium binary, or unset it`);
    return given;
  }
  if (platform() === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')) {
    const { default: chromium } = await import('@sparticuz/chromium');
    try {
      return await chromium.executablePath();
    } catch (e) {
      throw new Error(
        `could not unpack the Chromium of @sparticuz/chromium into ${tmpdir()} (${(e as Error).message}): ` +
          'run `npm ci` again, or set CHROMIUM_PATH to a Chrome or Chromium binary',
      );
    }
  }
  const found = (INSTALLED_BROWSERS[platform()] ?? []).find((p) => existsSync(p));
  if (found) return found;
  throw new Error(
    `no Chromium for the real-browser tests on ${platform()}/${process.arch}: install Google Chrome or Chromium, ` +
      'or set CHROMIUM_PATH to its binary',
  );
}

async function startPostgres(): Promise<{ url: string; stop(): Promise<void> }> {
  const given = process.env.SSPX_TEST_PG_URL;
  if (given) return { url: given, stop: async () => {} };
  const hint = 'run `npm ci` again, or set SSPX_TEST_PG_URL to a PostgreSQL server the tests may create schemas in';
  let own;
  try {
    own = await startEmbeddedPostgres({
      dirPrefix: 'sspx-test-pg-',
      password: 'sspx-test',
      database: 'test',
      // room for the multi-process suite. No fsync: the suites kill collectors, never this server, and its disk
      // writes would otherwise starve a 2-core machine.
      flags: ['-c', 'max_connections=300', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${hint}`);
  }
  if (!own) throw new Error(`the embedded-postgres devDependency is not installed: ${hint}`);
  return own;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [chromiumPath, pg] = await Promise.all([findChromium(), startPostgres()]);
  project.provide('chromiumPath', chromiumPath);
  project.provide('pgUrl', pg.url);
  return () => pg.stop();
}

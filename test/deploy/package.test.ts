// Guards the installable package as an operator gets it (docs/deploy.md, "Installing the package"): `npm pack`, then
// `npm install` of the tarball into an empty directory with no repository around it. The package must carry the
// built script, the OpenAPI document and the migrations, need no build step and no devDependency (every module its
// dist/ imports is a file inside it, a Node built-in, or a `dependencies` entry), and `npx sspx-relay serve` there
// must run the README's landing-page and thank-you snippets in a real Chromium through to a fire the stand-in
// router logs. One install per run: better-sqlite3 compiles from source on machines without its prebuilt module.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isBuiltin } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedChromium } from '../support/browser.js';
import { ADMIN_KEY } from '../support/collector.js';
import { REPO_ROOT, send, json, spawnCollector, tempDir, type CollectorProcess } from '../support/proc.js';
import { startRouter, type TestRouter } from '../support/router.js';
import { cleanEnv, run } from './support.js';

const TOKEN = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.';
/** the collector's name in the README's snippets, replaced by the test collector's address */
const README_COLLECTOR = 'https://collect.shop.example';

/** the two HTML blocks of the README's "Paste this on your landing page": the landing page's tag, the thank-you page's */
function readmeSnippets(): { landing: string; thanks: string } {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Paste this on your landing page');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const blocks = [...section.matchAll(/```html\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks).toHaveLength(2);
  for (const b of blocks) expect(b).toContain(`${README_COLLECTOR}/sspx.js`);
  return { landing: blocks[0], thanks: blocks[1] };
}

/** every `import … from 'x'`, `export … from 'x'`, `import 'x'` (one per line, as tsc writes them) and `import('x')` */
function importsOf(code: string): string[] {
  return [
    ...code.matchAll(/^\s*(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])([^'"\n]+)\1/gm),
    ...code.matchAll(/^\s*import\s*(['"])([^'"\n]+)\1/gm),
    ...code.matchAll(/\bimport\(\s*(['"])([^'"\n]+)\1\s*\)/g),
  ].map((m) => m[2]);
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  );
}

/** `npx sspx-relay` in the install directory; `--no`: never fetch it, `--`: what follows is the command's, not npx's
 * (`npx sspx-relay --version` would print npm's own version) */
const NPX = ['--no', '--', 'sspx-relay'];

/** 'pg' → 'pg', '@scope/name/sub' → '@scope/name' */
const packageName = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

describe('the package, installed from its tarball', () => {
  let packDir = '';
  let installDir = '';
  let pkgDir = '';
  let pkg: { version: string; dependencies: Record<string, string>; scripts?: Record<string, string>; bin: Record<string, string> };

  beforeAll(async () => {
    for (const built of ['dist/sspx.js', 'dist/collector/cli.js'])
      if (!existsSync(join(REPO_ROOT, built))) throw new Error(`${built} is missing: run npm run build (npm test does)`);
    // --ignore-scripts: `npm test` has just built dist/, and prepack's rebuild would rewrite it under the suites
    // running beside this one
    packDir = tempDir('sspx-pack-');
    const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir], { cwd: REPO_ROOT, timeoutMs: 120_000 });
    expect(packed.code, packed.stderr).toBe(0);
    const tarball = join(packDir, packed.stdout.trim().split('\n').pop()!);
    expect(existsSync(tarball)).toBe(true);

    installDir = tempDir('sspx-install-');
    for (let dir = dirname(installDir); dir !== dirname(dir); dir = dirname(dir))
      expect(existsSync(join(dir, 'package.json')), `${dir} holds a package.json: not an empty place`).toBe(false);
    writeFileSync(join(installDir, 'package.json'), JSON.stringify({ private: true, allowScripts: { 'better-sqlite3': true } }));
    // from the npm cache that `npm ci` filled where it can; package metadata npm lacks comes from the registry.
    // better-sqlite3 compiles in about a minute on an idle machine; the bound is for a loaded one
    const installed = await run('npm', ['install', '--prefer-offline', '--omit=dev', '--no-audit', '--no-fund', tarball], {
      cwd: installDir,
      timeoutMs: 1_140_000,
    });
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    pkgDir = join(installDir, 'node_modules', 'sspx-relay');
    pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  }, 1_200_000);

  // the installed tree is about 100 MB (better-sqlite3's build among it)
  afterAll(() => {
    for (const dir of [packDir, installDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('carries the built script, the OpenAPI document and the migrations, and runs no build when installed', () => {
    for (const file of ['dist/sspx.js', 'openapi.json', 'dist/collector/store/sqlite-schema.js', 'dist/collector/store/postgres-schema.js', 'docs/deploy.md'])
      expect(existsSync(join(pkgDir, file)), file).toBe(true);
    expect(readFileSync(join(pkgDir, 'dist/sspx.js'))).toEqual(readFileSync(join(REPO_ROOT, 'dist/sspx.js')));
    expect(existsSync(join(pkgDir, pkg.bin['sspx-relay']))).toBe(true);
    // nothing to compile and nothing that would try to: no sources, no install-time scripts of its own
    const shipped = readdirSync(pkgDir, { recursive: true }) as string[];
    expect(shipped.filter((f) => f.endsWith('.ts') || f.endsWith('.map'))).toEqual([]);
    expect(Object.keys(pkg.scripts ?? {}).filter((s) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(s))).toEqual([]);
    // and no devDependency came along
    for (const dev of ['typescript', 'rollup', 'tsx', 'vitest', 'playwright-core']) expect(existsSync(join(installDir, 'node_modules', dev)), dev).toBe(false);
  });

  it('imports nothing but its own files, Node built-ins and its dependencies', () => {
    const unresolved: string[] = [];
    for (const file of jsFiles(join(pkgDir, 'dist'))) {
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) {
          if (!existsSync(resolve(dirname(file), spec))) unresolved.push(`${file.slice(pkgDir.length + 1)}: ${spec} (no such file)`);
        } else if (!isBuiltin(spec) && !(packageName(spec) in pkg.dependencies)) {
          unresolved.push(`${file.slice(pkgDir.length + 1)}: ${spec} (not a dependency)`);
        }
      }
    }
    expect(unresolved).toEqual([]);
  });

  it('answers `npx sspx-relay` with its version and commands, and writes a configuration with init', async () => {
    const version = await run('npx', [...NPX, '--version'], { cwd: installDir });
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = await run('npx', [...NPX, '--help'], { cwd: installDir });
    for (const command of ['serve', 'init', 'migrate', 'backup', 'fire', 'stats']) expect(help.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    const init = await run('npx', [...NPX, 'init', '--config', 'live.config.json', '--pixel', 'purchase=59633', '--site', 'https://shop.example'], { cwd: installDir });
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(installDir, 'live.config.json'), 'utf8'))).toMatchObject({ pixels: { purchase: { id: 59633 } } });
  });

  describe('served with npx sspx-relay serve', () => {
    let router: TestRouter;
    let site: http.Server;
    let siteUrl = '';
    let collector: CollectorProcess;
    let chromium: LaunchedChromium;

    beforeAll(async () => {
      router = await startRouter();
      const { landing, thanks } = readmeSnippets();
      let collectorUrl = '';
      const page = (body: string) => `<!doctype html><html><head><meta charset="utf-8"></head><body>${body.replaceAll(README_COLLECTOR, collectorUrl)}</body></html>`;
      site = http.createServer((req, res) => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const body =
          path === '/landing' ? `<h1>Landing</h1><a id="app" href="https://apps.apple.com/app/id1">App Store</a>${landing}`
          : path === '/thanks' ? `<h1>Thank you</h1>${thanks}`
          : undefined;
        res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' }).end(body ? page(body) : 'not found');
      });
      await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
      siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;

      collector = await spawnCollector({
        dir: installDir,
        command: ['npx', ...NPX],
        config: {
          port: 0,
          host: '127.0.0.1',
          store: 'sqlite:./data/sspx.db',
          router: router.url,
          allow_insecure_router: true,
          sites: [{ origin: siteUrl }],
          keys: { admin: [ADMIN_KEY] },
          pixels: { purchase: { id: 59633, trigger_type: 'hybrid', min_minutes_per_conv: 0 } },
          log_level: 'warn',
        },
        startTimeoutMs: 60_000,
      });
      collectorUrl = collector.url;
      chromium = await launchChromium();
    }, 120_000);

    afterAll(async () => {
      await chromium?.close();
      await collector?.stop();
      await new Promise((r) => site?.close(r));
      await router?.close();
    });

    it('runs the README snippets in Chromium through to a logged fire', async () => {
      const script = await send(`${collector.url}/sspx.js`);
      expect(script.status).toBe(200);
      expect(script.body).toBe(readFileSync(join(pkgDir, 'dist/sspx.js'), 'utf8'));

      const page = await chromium.context.newPage();
      const touched = page.waitForResponse((r) => r.url() === `${collector.url}/t` && r.status() === 200);
      await page.goto(`${siteUrl}/landing?sspdata=${TOKEN}`);
      const { cid } = await (await touched).json();
      expect(cid).toMatch(/^[A-Za-z0-9_-]{22}$/);
      // the README's data-decorate: the App Store link carries the click id
      await page.waitForFunction((c) => document.getElementById('app')?.getAttribute('href')?.includes(c), cid);

      const converted = page.waitForResponse((r) => r.url() === `${collector.url}/c`);
      await page.goto(`${siteUrl}/thanks`);
      const answer = await (await converted).json();
      expect(answer).toMatchObject({ outcome: 'attributed', fire_id: expect.stringMatching(/^f_/) });

      await router.waitFor((r) => r.logged.length === 1, 15_000);
      expect(router.fires).toHaveLength(1);
      expect(router.fires[0].query.map(([k]) => k)).toEqual(['id', 'order_id', 'value', 'sspdata']);
      expect(router.fires[0].params).toMatchObject({ id: '59633', order_id: 'A-1001', value: '49.90', sspdata: TOKEN });

      // the router logs the hop before the collector has recorded the attempt: wait for the record (the test's
      // timeout bounds the wait)
      const fireState = async (): Promise<string> =>
        json(await send(`${collector.url}/v1/fires/${answer.fire_id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).state;
      let state = await fireState();
      while (state === 'queued' || state === 'in_flight') {
        await new Promise((r) => setTimeout(r, 20));
        state = await fireState();
      }
      expect(state).toBe('fired');
      await page.close();

      // SIGTERM reaches the collector through npx's process group; it drains and exits
      await collector.stop();
      expect(collector.stdout()).toMatch(/listening on/);
      expect(existsSync(join(installDir, 'data', 'sspx.db'))).toBe(true);
    }, 60_000);
  });
});

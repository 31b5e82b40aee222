// Guards `sspx-relay init` and the built-in local setup's rules: init writes a sspx.config.json that serve accepts
// as it is (valid JSON, its notes under "$comment", Microsoft's router, not a dry run, fresh keys of 32+
// characters, the pixels and sites of the flags), refuses to overwrite without --force and refuses bad flags; the
// built-in setup is a dry run that accepts landing pages on localhost and 127.0.0.1 at any port and no other origin.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, MICROSOFT_ROUTER, parseConfig, SAMPLE_CONFIG } from '../../collector/config.js';
import { runInit } from '../../collector/commands/init.js';
import { siteForOrigin } from '../../collector/http/cors.js';
import { localKeys } from '../../collector/keys.js';
import { captureIo } from '../support/io.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sspx-init-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sspx-relay init', () => {
  it('writes a config that serve loads as it is: the real router, the flags\' pixels and sites, fresh keys', async () => {
    const path = join(dir, 'sspx.config.json');
    const io = captureIo();
    const code = await runInit({ config: path, pixel: ['purchase=4242', 'lead=77'], site: ['https://shop.example'], publicUrl: 'https://collect.shop.example' }, io);
    expect(code, io.stderr()).toBe(0);
    const written = JSON.parse(readFileSync(path, 'utf8'));
    expect(written.$comment).toEqual(expect.arrayContaining([expect.stringContaining('sspx-relay init')]));
    const { config, builtIn } = loadConfig(path, {});
    expect(builtIn).toBe(false);
    expect(config).toMatchObject({ router: MICROSOFT_ROUTER, dry_run: false, public_url: 'https://collect.shop.example', sites: [{ origin: 'https://shop.example' }] });
    expect(Object.fromEntries(Object.entries(config.pixels).map(([n, p]) => [n, p.id]))).toEqual({ purchase: 4242, lead: 77 });
    const keys = [...config.keys.server, ...config.keys.app, ...config.keys.admin];
    expect(keys).toHaveLength(3);
    for (const k of keys) expect(k.length).toBeGreaterThanOrEqual(32);
    expect(new Set(keys).size).toBe(3);
    expect(statSync(path).mode & 0o077).toBe(0);

    // a second init mints other keys
    const other = join(dir, 'other.json');
    await runInit({ config: other, pixel: ['purchase=4242'], site: ['https://shop.example'] }, captureIo());
    expect(JSON.parse(readFileSync(other, 'utf8')).keys.admin[0]).not.toBe(written.keys.admin[0]);
  });

  it('refuses to overwrite an existing file without --force, and overwrites it with --force', async () => {
    const path = join(dir, 'sspx.config.json');
    writeFileSync(path, '{"port": 1}');
    const io = captureIo();
    expect(await runInit({ config: path, pixel: ['purchase=1'], site: ['https://shop.example'] }, io)).toBe(1);
    expect(io.stderr()).toContain('--force');
    expect(readFileSync(path, 'utf8')).toBe('{"port": 1}');
    expect(await runInit({ config: path, pixel: ['purchase=1'], site: ['https://shop.example'], force: true }, captureIo())).toBe(0);
    expect(JSON.parse(readFileSync(path, 'utf8')).pixels.purchase.id).toBe(1);
  });

  it('asks for what the flags leave out', async () => {
    const path = join(dir, 'sspx.config.json');
    const answers = ['purchase=9001', 'https://a.example https://b.example', ''];
    const asked: string[] = [];
    const code = await runInit({ config: path, ask: async (q) => (asked.push(q), answers.shift()!) }, captureIo());
    expect(code).toBe(0);
    expect(asked).toHaveLength(3);
    const { config } = loadConfig(path, {});
    expect(config.sites.map((s) => s.origin)).toEqual(['https://a.example', 'https://b.example']);
    expect(config.pixels.purchase.id).toBe(9001);
    expect(config.public_url).toBeUndefined();
  });

  it.each([
    [{ pixel: ['purchase'], site: ['https://shop.example'] }, 'name=id'],
    [{ pixel: ['purchase=1'], site: ['shop.example'] }, 'sites.0.origin'],
    [{ site: ['https://shop.example'] }, 'no pixel'],
    [{ pixel: ['purchase=1'] }, 'no site'],
  ])('refuses %j without writing a file', async (flags, message) => {
    const path = join(dir, 'sspx.config.json');
    const io = captureIo();
    expect(await runInit({ config: path, ...flags }, io)).toBe(1);
    expect(io.stderr()).toContain(message);
    expect(() => statSync(path)).toThrow();
  });
});

describe('the built-in local setup', () => {
  it('is a dry run on the README\'s purchase pixel, loaded when no configuration file exists', () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const { config, builtIn } = loadConfig(undefined, {});
      expect(builtIn).toBe(true);
      expect(config.dry_run).toBe(true);
      expect(config.pixels.purchase).toMatchObject({ id: 59633, trigger_type: 'hybrid' });
    } finally {
      process.chdir(cwd);
    }
  });

  it('accepts localhost and 127.0.0.1 landing pages on any port, and no other origin', () => {
    const config = parseConfig(SAMPLE_CONFIG);
    for (const origin of ['http://localhost:3000', 'http://localhost', 'http://127.0.0.1:8081']) {
      expect(siteForOrigin(origin, config)?.origin).toBe(origin);
    }
    for (const origin of ['https://localhost:3000', 'http://localhost.evil.example', 'http://localhost:30x0', 'http://127.0.0.1.evil.example:80', 'http://evil.example', 'null']) {
      expect(siteForOrigin(origin, config), origin).toBeUndefined();
    }
  });

  it('mints its keys once into the data directory (mode 0600) and keeps them across restarts', () => {
    const first = localKeys(join(dir, 'data'));
    expect(first.created).toBe(true);
    expect(statSync(first.path).mode & 0o777).toBe(0o600);
    for (const k of [...first.keys.server, ...first.keys.app, ...first.keys.admin]) expect(k.length).toBeGreaterThanOrEqual(32);
    const again = localKeys(join(dir, 'data'));
    expect(again).toMatchObject({ created: false, keys: first.keys });
  });
});

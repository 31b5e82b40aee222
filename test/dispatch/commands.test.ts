// Guards the `fire` and `replay` commands: `fire` sends one pixel, prints the curl-style transcript and exits 0 only
// when the router logged it, refusing bad tokens, bad fields and insecure non-loopback routers before sending
// anything; `replay` re-queues exactly the failed or ambiguous fires asked for, and changes nothing on --dry-run.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerFire, runFire } from '../../collector/commands/fire.js';
import { registerReplay, runReplay } from '../../collector/commands/replay.js';
import type { AttemptOutcome, Fire, FireState } from '../../collector/store/store.js';
import { startRouter, type TestRouter } from '../support/router.js';
import { harness, queueFire, TOKEN, type Harness } from './fixture.js';
import { captureIo } from '../support/io.js';

const io = captureIo;

let router: TestRouter;
let h: Harness;
let configPath: string;
let strictPath: string;

beforeAll(async () => {
  router = await startRouter();
  h = await harness({ router: router.url });
  configPath = join(h.dir, 'sspx.config.json');
  writeFileSync(configPath, JSON.stringify({ store: h.ctx.config.store, router: router.url, allow_insecure_router: true, pixels: { purchase: { id: 59633 } } }));
  strictPath = join(h.dir, 'strict.config.json');
  writeFileSync(strictPath, JSON.stringify({ store: h.ctx.config.store, pixels: { purchase: { id: 59633 } } }));
});
afterEach(() => router.reset());
afterAll(async () => {
  await h.close();
  await router.close();
});

describe('sspx-relay fire', () => {
  it('fires, prints the transcript and exits 0 when the router logged it', async () => {
    const o = io();
    const code = await runFire({ config: configPath, pixel: 'purchase', token: TOKEN, orderId: 'A-1', value: '10.5' }, o);
    expect(code).toBe(0);
    expect(o.stdout()).toContain(`$ curl --verbose -L '${router.url}?id=59633&order_id=A-1&value=10.5&sspdata=${TOKEN}'`);
    expect(o.stdout()).toContain('< HTTP/1.1 302 Found');
    expect(o.stdout()).toContain('< HTTP/1.1 200 OK');
    expect(o.stderr()).toMatch(/^fired: the router logged it \(HTTP 200, 2 hops/);
    expect(router.logged[0].params).toMatchObject({ id: '59633', order_id: 'A-1', value: '10.5', sspdata: TOKEN });
  });

  it.each([
    ['the router answers 404', { pixel: '59633' }, [{ status: 404 }], /not logged: failed \(http_4xx\)/, 1],
    ['the router answers 500', { pixel: '59633' }, [{ status: 500 }], /not logged: retry \(http_5xx\)/, 1],
    ['an unreplaced macro as token', { token: '${SSP_DATA}' }, [], /--token: refusing to fire: it is an unreplaced macro/, 0],
    ['a token with a space', { token: 'abc def' }, [], /--token: refusing to fire: it holds characters/, 0],
    ['an unknown pixel name', { pixel: 'nope' }, [], /--pixel: nope is neither/, 0],
    ['a bad order id', { orderId: 'a b' }, [], /--order-id: order_id must be/, 0],
    ['a currency value', { value: '$10' }, [], /--value: value must be purely numeric/, 0],
    ['a long other', { other: 'x'.repeat(21) }, [], /--other: other must be/, 0],
  ] as const)('exits 1 when %s', async (_n, opts, steps, message, requests) => {
    router.script(...steps);
    const o = io();
    expect(await runFire({ config: configPath, pixel: 'purchase', token: TOKEN, ...opts }, o)).toBe(1);
    expect(o.stderr()).toMatch(message);
    expect(router.fires).toHaveLength(requests);
  });

  it('--router: plain http only for loopback, unless allow_insecure_router', async () => {
    const loop = io();
    expect(await runFire({ config: strictPath, pixel: 'purchase', token: TOKEN, router: router.url }, loop)).toBe(0);
    const remote = io();
    expect(await runFire({ config: strictPath, pixel: 'purchase', token: TOKEN, router: 'http://router.example/sspx' }, remote)).toBe(1);
    expect(remote.stderr()).toMatch(/--router: must be https/);
    const query = io();
    expect(await runFire({ config: strictPath, pixel: 'purchase', token: TOKEN, router: 'https://router.example/sspx?x=1' }, query)).toBe(1);
    expect(query.stderr()).toMatch(/--router: must not carry a query/);
    const metadata = io();
    expect(await runFire({ config: strictPath, pixel: 'purchase', token: TOKEN, router: 'https://169.254.169.254/sspx' }, metadata)).toBe(1);
    expect(router.fires).toHaveLength(1);
  });

  it('registers with commander', () => {
    const program = new Command();
    registerFire(program);
    registerReplay(program);
    const fire = program.commands.find((c) => c.name() === 'fire')!;
    expect(fire.options.map((o) => o.long)).toEqual(['--pixel', '--token', '--order-id', '--value', '--other', '--router', '--config']);
    const replay = program.commands.find((c) => c.name() === 'replay')!;
    expect(replay.options.map((o) => o.long)).toEqual(['--state', '--since', '--pixel', '--dry-run', '--config']);
  });
});

describe('sspx-relay replay', () => {
  /** a fire moved to `state` with one attempt of `outcome`, as the dispatcher would leave it */
  async function settledFire(state: FireState, outcome: AttemptOutcome, pixel_id = 59633): Promise<Fire> {
    const fire = await queueFire(h.store, { pixel_id });
    await h.store.claimFires('test', Date.now(), 60_000, 1000);
    const now = Date.now();
    await h.store.recordAttempt(fire.id, 'test', { started_at: now, duration_ms: 1, outcome, error_class: null, status: null, url: null, hops: null, next_attempt_at: null }, { state, next_attempt_at: null, last_error: 'x' });
    return fire;
  }
  const stateOf = async (f: Fire) => (await h.store.getFire(f.id))!.state;

  it('re-queues failed fires, or with --dry-run only lists them', async () => {
    const a = await settledFire('failed', 'failed');
    const b = await settledFire('failed', 'retry', 70000);
    const held = await settledFire('held', 'ambiguous');

    const dry = io();
    expect(await runReplay({ config: configPath, state: 'failed', dryRun: true }, dry)).toBe(0);
    expect(dry.stdout()).toMatch(/^would replay 2 failed fires/);
    expect(await stateOf(a)).toBe('failed');

    const some = io();
    expect(await runReplay({ config: configPath, state: 'failed', pixel: '70000', progress: true }, some)).toBe(0);
    expect(some.stdout()).toMatch(/^replayed 1 failed fires of pixel 70000/);
    expect(some.stderr()).toContain('] 100% 1/1');
    expect([await stateOf(a), await stateOf(b), await stateOf(held)]).toEqual(['failed', 'queued', 'held']);

    const rest = io();
    expect(await runReplay({ config: configPath, state: 'failed', since: new Date(Date.now() - 60_000).toISOString() }, rest)).toBe(0);
    expect(rest.stdout()).toMatch(/^replayed 1 failed fires/);
    expect(await stateOf(a)).toBe('queued');
  });

  it('ambiguous means held fires and failed fires whose last attempt was ambiguous', async () => {
    const held = await settledFire('held', 'ambiguous');
    const gaveUp = await settledFire('failed', 'ambiguous');
    const plain = await settledFire('failed', 'failed');
    const o = io();
    expect(await runReplay({ config: configPath, state: 'ambiguous' }, o)).toBe(0);
    expect(o.stdout()).toMatch(/^replayed \d+ ambiguous fires/);
    expect([await stateOf(held), await stateOf(gaveUp), await stateOf(plain)]).toEqual(['queued', 'queued', 'failed']);
  });

  it.each([
    [{ state: 'fired' }, /--state must be failed or ambiguous/],
    [{ state: 'failed', since: 'last week' }, /--since: last week is not an ISO 8601 time/],
    [{ state: 'failed', pixel: 'nope' }, /--pixel: nope is neither/],
  ])('refuses %j', async (opts, message) => {
    const o = io();
    expect(await runReplay({ config: configPath, ...opts }, o)).toBe(1);
    expect(o.stderr()).toMatch(message);
  });
});

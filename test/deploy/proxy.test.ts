// Guards the deployment files under deploy/ against the collector and each other, as far as a machine without
// nginx, Caddy, systemd or a container runtime can: a collector on deploy/sspx.config.json, sent exactly the headers
// deploy/nginx/sspx-relay.conf sets (its variables expanded as nginx would), takes the client's address from the
// proxy's hop (not the proxy's, not one the client forged) and sets a Secure cookie for the site's cookie_domain;
// the proxies, the systemd units and the container file agree with that configuration (port, name, paths, data
// directory, a stop timeout longer than the collector's drain); docs/deploy.md links every file without pasting it,
// and the README links the guide right after the two commands.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STOP_GRACE_MS } from '../../collector/commands/serve.js';
import { MICROSOFT_ROUTER, parseConfig, type ConfigInput } from '../../collector/config.js';
import { truncateIp } from '../../collector/ingest/client.js';
import { VISITOR_UA } from '../support/browser.js';
import { startTestCollector, token, type TestCollector } from '../support/collector.js';
import { json, REPO_ROOT, send } from '../support/proc.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const deployConfig: ConfigInput = JSON.parse(read('deploy/sspx.config.json'));
const config = parseConfig(deployConfig);
/** deploy/'s configuration on the test collector's own temporary store (its /var/lib path is the server's) */
const { store: _deployedStore, ...deployedElsewhere } = deployConfig;
const publicHost = new URL(config.public_url!).host;
const dataDir = dirname(config.store.slice('sqlite:'.length));

/** `Key=Value` lines of a systemd unit (the last one wins, as systemd reads single-valued keys) */
function unit(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(path).split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** nginx's `proxy_set_header NAME VALUE;` of the collector's location, variables expanded for one request */
function nginxHeaders(vars: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const m of read('deploy/nginx/sspx-relay.conf').matchAll(/^\s*proxy_set_header\s+(\S+)\s+("[^"]*"|\S+);/gm)) {
    const value = m[2].replace(/^"|"$/g, '').replace(/\$(\w+)/g, (_, v: string) => {
      if (!(v in vars)) throw new Error(`the test does not know nginx's $${v}`);
      return vars[v];
    });
    if (value) headers[m[1].toLowerCase()] = value;
  }
  return headers;
}

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));

describe('a collector behind the nginx of deploy/', () => {
  let collector: TestCollector | undefined;
  afterEach(async () => {
    await collector?.stop();
    collector = undefined;
  });

  /** a touch from shop.example's landing page, as nginx forwards it; the client forged an X-Forwarded-For of its own */
  const touchThroughNginx = (c: TestCollector) => {
    const client = '203.0.113.45';
    const headers = nginxHeaders({ host: publicHost, scheme: 'https', remote_addr: client, proxy_add_x_forwarded_for: `10.9.9.9, ${client}` });
    return send(`${c.url}/t`, {
      method: 'POST',
      headers: { ...headers, origin: config.sites[0].origin, 'content-type': 'text/plain', 'user-agent': VISITOR_UA },
      body: JSON.stringify({ t: token('proxy') }),
    }).then((res) => ({ res, client }));
  };

  it('passes the three headers the collector reads', () => {
    const headers = nginxHeaders({ host: publicHost, scheme: 'https', remote_addr: '203.0.113.45', proxy_add_x_forwarded_for: '203.0.113.45' });
    expect(headers).toMatchObject({ host: publicHost, 'x-forwarded-for': '203.0.113.45', 'x-forwarded-proto': 'https' });
  });

  it('with trust_proxy 1, records the client address nginx saw and sets a Secure cookie for the site', async () => {
    collector = await startTestCollector({ ...deployedElsewhere, port: 0, host: '127.0.0.1', log_level: 'silent' });
    const { res, client } = await touchThroughNginx(collector);
    expect(res.status).toBe(200);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^sspx_vid=/);
    for (const attribute of ['Secure', 'HttpOnly', 'SameSite=Lax', `Domain=${config.sites[0].cookie_domain}`]) expect(cookie).toContain(attribute);
    // browsers learn HSTS for the collector's name from its pages' answers (a beacon's lean answer carries none)
    const page = await send(`${collector.url}/admin/login`, { headers: nginxHeaders({ host: publicHost, scheme: 'https', remote_addr: client, proxy_add_x_forwarded_for: client }) });
    expect(page.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    const touch = await collector.ctx.store.touchByCid(json(res).cid);
    expect(touch?.ip_prefix).toBe(truncateIp(client));
  });

  it('without trust_proxy, would take the proxy for the client (why the setting matters)', async () => {
    collector = await startTestCollector({ ...deployedElsewhere, trust_proxy: 0, port: 0, host: '127.0.0.1', log_level: 'silent' });
    const { res, client } = await touchThroughNginx(collector);
    expect(res.status).toBe(200);
    const touch = await collector.ctx.store.touchByCid(json(res).cid);
    expect(touch?.ip_prefix).not.toBe(truncateIp(client));
    expect(touch?.ip_prefix).toMatch(/^127\.0\.0\.0\/24$|^::1?/);
  });
});

describe('the files under deploy/', () => {
  it('configure a collector behind one HTTPS proxy, storing under one data directory', () => {
    expect(config).toMatchObject({ trust_proxy: 1, host: '127.0.0.1', router: MICROSOFT_ROUTER, allow_insecure_router: false });
    expect(config.public_url).toMatch(/^https:\/\//);
    expect(config.store).toMatch(/^sqlite:\//);
    for (const site of config.sites) expect(new URL(site.origin).hostname.endsWith(site.cookie_domain!.replace(/^\./, ''))).toBe(true);
    // the cookie's Domain must cover the collector's own name, or browsers discard it
    for (const site of config.sites) expect(`.${new URL(config.public_url!).hostname}`.endsWith(site.cookie_domain!)).toBe(true);
  });

  it('proxy the public name to the configured port', () => {
    const nginx = read('deploy/nginx/sspx-relay.conf');
    for (const m of nginx.matchAll(/^\s*server_name\s+([^;]+);/gm)) expect(m[1].trim()).toBe(publicHost);
    expect(nginx).toMatch(new RegExp(`^\\s*server 127\\.0\\.0\\.1:${config.port};`, 'm'));
    expect(nginx).toMatch(/^\s*proxy_pass http:\/\/sspx_relay;/m);
    expect(nginx).toMatch(/^\s*listen 443 ssl;/m);
    const caddy = read('deploy/Caddyfile');
    expect(caddy).toMatch(new RegExp(`^${publicHost.replace(/\./g, '\\.')} \\{`, 'm'));
    expect(caddy).toMatch(new RegExp(`^\\s*reverse_proxy 127\\.0\\.0\\.1:${config.port}$`, 'm'));
  });

  it('run it as a dedicated user that systemd stops only after the drain', () => {
    const service = unit('deploy/sspx-relay.service');
    expect(service.User).toMatch(/^[a-z][a-z-]*$/);
    expect(service.User).not.toBe('root');
    expect(service.Restart).toBe('on-failure');
    expect(service.KillSignal).toBe('SIGTERM');
    expect(`/var/lib/${service.StateDirectory}`).toBe(dataDir);
    expect(service.ExecStart).toMatch(/^\/opt\/sspx-relay\/node_modules\/\.bin\/sspx-relay serve --config \/etc\/sspx-relay\/sspx\.config\.json$/);
    // the collector waits up to STOP_GRACE_MS for requests, then as long again for fires in flight
    expect(Number(service.TimeoutStopSec)).toBeGreaterThan((2 * STOP_GRACE_MS) / 1000);

    const backup = unit('deploy/sspx-relay-backup.service');
    expect(backup.User).toBe(service.User);
    expect(backup.StateDirectory.split(' ')).toContain(service.StateDirectory);
    expect(backup.ExecStart).toContain('sspx-relay backup --config /etc/sspx-relay/sspx.config.json ');
    expect(unit('deploy/sspx-relay-backup.timer').OnCalendar).toBeTruthy();
  });

  it('build an image that runs as non-root with the data directory as its volume', () => {
    const file = read('deploy/Containerfile');
    const users = [...file.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBeDefined();
    expect(['root', '0']).not.toContain(users.at(-1));
    expect(file).toMatch(new RegExp(`^VOLUME ${dataDir.replace(/\//g, '\\/')}$`, 'm'));
    expect(file).toContain(`SSPX_STORE=sqlite:${dataDir}/`);
    const stopTimeout = /--stop-timeout (\d+)/.exec(file);
    expect(Number(stopTimeout?.[1])).toBeGreaterThan((2 * STOP_GRACE_MS) / 1000);
  });

  it('are each linked from docs/deploy.md, never pasted into it', () => {
    const guide = read('docs/deploy.md');
    const files = filesUnder(DEPLOY).map((f) => relative(REPO_ROOT, f));
    for (const f of files) expect(guide, f).toContain(`](../${f})`);
    for (const m of guide.matchAll(/\]\(\.\.\/(deploy\/[^)#]+)\)/g)) expect(existsSync(join(REPO_ROOT, m[1])), m[1]).toBe(true);
    const guideLines = new Set(guide.split('\n').map((l) => l.trim()));
    for (const f of files) {
      const pasted = read(f).split('\n').map((l) => l.trim()).filter((l) => l.length >= 30 && !l.startsWith('#') && guideLines.has(l));
      expect(pasted, f).toEqual([]);
    }
  });

  it('are found from the README right after the two commands', () => {
    const readme = read('README.md');
    const start = readme.indexOf('## Two commands');
    const afterBlock = readme.indexOf('```\n', readme.indexOf('```sh', start) + 5) + 4;
    const nextParagraph = readme.slice(afterBlock).trimStart().split('\n\n')[0];
    expect(nextParagraph).toContain('](docs/deploy.md)');
  });
});

// Guards where the collector may fetch: the router address is the operator's, fixed in the configuration and checked
// when it is loaded, and `serve` refuses to start on a bad one (exit 2, the key named). https only unless
// allow_insecure_router; never a link-local or cloud metadata address (in any spelling: IPv4-mapped IPv6, decimal,
// hex), not even with allow_insecure_router; no loopback or private address without it; only http(s); no query,
// fragment or credentials. (That no request can change the address at run time is in injection.test.ts.)
import { describe, expect, it } from 'vitest';
import { ConfigError, MICROSOFT_ROUTER, parseConfig } from '../../collector/config.js';
import { BASE_CONFIG } from '../support/collector.js';
import { spawnCollector, tempDir } from '../support/proc.js';

const withRouter = (router: string, allow_insecure_router = false) => () => parseConfig({ ...BASE_CONFIG, router, allow_insecure_router });

describe('the router address', () => {
  it("Microsoft's router is the default and passes", () => {
    const { router: _r, allow_insecure_router: _a, ...rest } = BASE_CONFIG;
    expect(parseConfig(rest).router).toBe(MICROSOFT_ROUTER);
    expect(withRouter('https://sspx-router.adnxs.com/sspx')().router).toBe(MICROSOFT_ROUTER);
  });

  const neverAllowed = [
    'http://169.254.169.254/latest/meta-data/',
    'https://169.254.169.254/sspx',
    'http://169.254.170.2/v2/credentials',
    'http://[fe80::1]/sspx',
    'http://[::ffff:169.254.169.254]/sspx',
    'http://[::ffff:a9fe:a9fe]/sspx',
    'http://2852039166/sspx', // 169.254.169.254 as one decimal number
    'http://0xa9.0xfe.0xa9.0xfe/sspx',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://METADATA.GOOGLE.INTERNAL./x',
    'http://100.100.100.200/latest/meta-data/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://[2002:a9fe:a9fe::]/latest/meta-data/', // 6to4 carrying 169.254.169.254
    'file:///etc/passwd',
    'ftp://127.0.0.1/sspx',
    'gopher://127.0.0.1:6379/_INFO',
    'data:text/plain,hello',
    'javascript:alert(1)',
    'https://sspx-router.adnxs.com/sspx?id=1',
    'https://sspx-router.adnxs.com/sspx#frag',
    'https://user:pass@sspx-router.adnxs.com/sspx',
    'not a url',
  ];
  it.each(neverAllowed)('%s is refused, even with allow_insecure_router', (router) => {
    for (const allow of [false, true]) expect(withRouter(router, allow), `allow_insecure_router ${allow}`).toThrow(ConfigError);
    expect(withRouter(router, true)).toThrow(/router/);
  });

  const insecure = [
    'http://sspx-router.adnxs.com/sspx',
    'https://localhost/sspx',
    'https://127.0.0.1/sspx',
    'https://127.1/sspx',
    'https://[::1]/sspx',
    'https://[::ffff:127.0.0.1]/sspx',
    'https://10.0.0.5/sspx',
    'https://172.16.0.1/sspx',
    'https://172.31.255.255/sspx',
    'https://192.168.1.1/sspx',
    'https://[fd12:3456::1]/sspx',
    'https://0.0.0.0/sspx',
    'https://100.64.0.1/sspx', // shared address space (carrier-grade NAT)
    'https://100.127.255.254/sspx',
    'https://198.18.0.1/sspx', // benchmarking
    'https://198.19.255.255/sspx',
    'https://192.0.0.8/sspx', // IETF protocol assignments
    'https://224.0.0.251/sspx', // multicast
    'https://240.0.0.1/sspx', // reserved
    'https://255.255.255.255/sspx', // broadcast
    'https://[ff02::1]/sspx', // IPv6 multicast
    'https://[2002:c0a8:101::1]/sspx', // 6to4 carrying 192.168.1.1
    'https://[2002:7f00:1::]/sspx', // 6to4 carrying 127.0.0.1
  ];
  it.each(insecure)('%s needs allow_insecure_router', (router) => {
    expect(withRouter(router, false)).toThrow(ConfigError);
    expect(withRouter(router, true)().router).toBeTruthy();
  });

  // the neighbours of those ranges are public addresses
  it.each(['https://100.128.0.1/sspx', 'https://100.63.255.255/sspx', 'https://198.20.0.1/sspx', 'https://223.255.255.1/sspx', 'https://[2002:808:808::]/sspx', 'https://[2a00:1450::1]/sspx'])(
    '%s is public: no allow_insecure_router needed',
    (router) => expect(withRouter(router, false)().router).toBe(router),
  );

  it('serve refuses to start on a bad router: exit 2, the key named', async () => {
    const dir = tempDir('sspx-badrouter-');
    const start = spawnCollector({ dir, config: { ...BASE_CONFIG, store: `sqlite:${dir}/sspx.db`, router: 'http://169.254.169.254/latest/meta-data/', allow_insecure_router: true } });
    await expect(start).rejects.toThrow(/exited \(code 2[\s\S]*router: /);
  });
});

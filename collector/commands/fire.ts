// `sspx-relay fire`: fires one pixel now, outside the outbox, and prints the verbose transcript, as the
// documentation's `curl --verbose -L` test does. Exit 0 only when the router logged it (a final 2xx).
//
// `--router URL` overrides the configured router under the same rules as the config file, with one relaxation:
// a loopback URL (localhost, 127.0.0.0/8, ::1) typed on the command line is accepted over plain http, because the
// operator at the shell chose it and the token cannot leave the machine. Anything else stays https-only unless the
// config sets allow_insecure_router.
import type { Command } from 'commander';
import { ConfigError, loadConfig, parseConfig, pixelIdOf, type Config } from '../config.js';
import { defaultIo, operatorCommand, runCommand, sayTo, type Io } from './io.js';

export type { Io } from './io.js';
import { invalidOrderId, invalidOther, invalidValue } from '../fields.js';
import { fireUrl } from '../dispatch/fire-url.js';
import { FireAgents, httpFire } from '../dispatch/http-fire.js';
import { renderTranscript } from '../dispatch/transcript.js';
import { MAX_TOKEN_LENGTH, isMacro, isToken } from '../../snippet/token.js';

export interface FireOptions {
  config?: string;
  pixel: string;
  token: string;
  orderId?: string;
  value?: string;
  other?: string;
  router?: string;
}


const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** The router a `--router` override means, checked like the config's; throws ConfigError with the reason. */
export function routerOverride(url: string, config: Config): { router: string; allow_insecure: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`--router: ${url} is not a URL`);
  }
  const loopback = LOOPBACK.test(parsed.hostname);
  if (parsed.protocol !== 'https:' && !loopback && !config.allow_insecure_router) {
    throw new ConfigError('--router: must be https (plain http only for a loopback address, or with allow_insecure_router)');
  }
  const allow_insecure = config.allow_insecure_router || loopback;
  try {
    return { router: parseConfig({ ...config, router: url, allow_insecure_router: allow_insecure }).router, allow_insecure };
  } catch (err) {
    throw new ConfigError(String((err as Error).message).replace(/^invalid configuration:\n\s*router:/, '--router:'));
  }
}

function tokenProblem(token: string): string | null {
  const length = token.length;
  if (isToken(token)) return null;
  if (isMacro(token)) return 'it is an unreplaced macro (such as ${SSP_DATA}) or empty: the line item is misconfigured';
  if (length > MAX_TOKEN_LENGTH) return `it is longer than ${MAX_TOKEN_LENGTH} characters`;
  return 'it holds characters a token never has (whitespace, quotes, angle brackets, backslash or non-ASCII)';
}

export async function runFire(opts: FireOptions, io: Io = defaultIo()): Promise<number> {
  const say = sayTo(io);
  return runCommand('fire', io, async () => {
    const { config } = loadConfig(opts.config, io.env);
    const pixel = pixelIdOf(config, opts.pixel);
    if (!pixel) return (say(`--pixel: ${opts.pixel} is neither a configured pixel name nor a numeric pixel id`), 1);
    const bad = tokenProblem(opts.token);
    if (bad) return (say(`--token: refusing to fire: ${bad}`), 1);
    for (const [flag, v, check] of [['--order-id', opts.orderId, invalidOrderId], ['--value', opts.value, invalidValue], ['--other', opts.other, invalidOther]] as const) {
      const why = v === undefined ? null : check(v);
      if (why) return (say(`${flag}: ${why}`), 1);
    }
    const { router, allow_insecure } = opts.router ? routerOverride(opts.router, config) : { router: config.router, allow_insecure: config.allow_insecure_router };
    const url = fireUrl(router, { pixel_id: pixel, order_id: opts.orderId, value: opts.value, other: opts.other, token: opts.token });
    const agents = new FireAgents(1);
    try {
      const result = await httpFire(url, {
        connect_timeout_ms: config.connect_timeout_ms,
        request_timeout_ms: config.request_timeout_ms,
        max_redirects: config.max_redirects,
        allow_insecure,
        agents,
      });
      io.out.write(`$ curl --verbose -L '${url}'\n` + renderTranscript(result.hops));
      const hops = `${result.hops.length} hop${result.hops.length === 1 ? '' : 's'}`;
      if (result.outcome === 'fired') say(`fired: the router logged it (HTTP ${result.status}, ${hops}, ${Math.round(result.duration_ms)} ms)`);
      else say(`not logged: ${result.outcome} (${result.error_class}): ${result.error}`);
      return result.outcome === 'fired' ? 0 : 1;
    } finally {
      agents.destroy();
    }
  });
}

export function registerFire(program: Command): Command {
  return operatorCommand(
    program,
    'fire',
    'fire one pixel now, print the verbose transcript (curl --verbose -L style); exit 0 only when the router logged it',
    (c) =>
      c
        .requiredOption('--pixel <id|name>', 'a configured pixel name or a numeric pixel id')
        .requiredOption('--token <token>', 'the auction token (sspdata), byte for byte')
        .option('--order-id <id>', 'order id: letters, digits, ".", "_", "-"; at most 36')
        .option('--value <number>', 'conversion value, purely numeric')
        .option('--other <text>', 'free text, at most 20 characters')
        .option('--router <url>', 'fire at this router instead of the configured one (https; plain http only for a loopback address)'),
    runFire,
  );
}

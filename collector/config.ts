// The one configuration file, validated at start; every top-level scalar may also come from SSPX_* variables.
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { hostClass } from './net.js';
import { CONVERSION_SOURCES, ON_AMBIGUOUS, TOUCH_KINDS } from './vocabulary.js';

export const MICROSOFT_ROUTER = 'https://sspx-router.adnxs.com/sspx';
export const DEFAULT_CONFIG_PATH = 'sspx.config.json';

const mins = (max: number) => z.number().int().min(0).max(max);

/**
 * The longest windows Microsoft allows (90 days after a click, 30 after an impression). As in Microsoft's API, `0`
 * or `null` (its default, so a missing key too) mean these: the parsed config holds the effective minutes.
 */
export const MAX_WINDOWS = { post_click_expire_mins: 129_600, post_view_expire_mins: 43_200 } as const;
/** the window failed key checks are counted in (config failed_key_limit) */
export const FAILED_KEY_WINDOW_MINS = 15;
/** the longest window a pixel may have (90 days): how far back a reported occurred_at may lie */
export const MAX_WINDOW_MINS = MAX_WINDOWS.post_click_expire_mins;

const windowMins = (max: number) => mins(max).nullable().default(null).transform((m) => m || max);

const pixelSchema = z.strictObject({
  id: z.number().int().positive(),
  trigger_type: z.enum([...TOUCH_KINDS, 'hybrid']).default('click'),
  post_click_expire_mins: windowMins(MAX_WINDOWS.post_click_expire_mins),
  post_view_expire_mins: windowMins(MAX_WINDOWS.post_view_expire_mins),
  /** null: one conversion per user; 0: every conversion; N: at most one per N minutes (per visitor, order id or not) */
  min_minutes_per_conv: mins(32_767).nullable().default(null),
  sources: z.array(z.enum(CONVERSION_SOURCES)).min(1).default([...CONVERSION_SOURCES]),
  /** fire this pixel when an app install binds to its touch (the first open is the conversion); only if sources has app */
  on_install: z.boolean().default(false),
});

const siteSchema = z.strictObject({
  origin: z
    .string()
    .regex(/^https?:\/\/[^/\s]+\/?$/, 'must be a scheme and host, such as https://shop.example')
    .transform((o) => o.replace(/\/$/, '').toLowerCase()),
  cookie_domain: z.string().regex(/^\.?[a-z0-9.-]+$/i).optional(),
});

/** any non-empty key is read; `serve` refuses short, sample or shared keys (keys.ts keyProblems) */
const keyList = z.array(z.string().min(1, 'a key must not be empty').max(512)).default([]);

export const configSchema = z.strictObject({
  /** a note for people reading the file (sspx-relay init writes one); ignored */
  $comment: z.union([z.string(), z.array(z.string())]).optional(),
  port: z.number().int().min(0).max(65_535).default(8080),
  host: z.string().default('0.0.0.0'),
  public_url: z.url().optional(),
  store: z.string().regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:PATH or a postgres:// URL').default('sqlite:./data/sspx.db'),
  router: z.url().default(MICROSOFT_ROUTER),
  sites: z.array(siteSchema).default([]),
  token_params: z.array(z.string().regex(/^[\w.-]{1,64}$/)).min(1).default(['sspdata']),
  pixels: z.record(z.string().regex(/^[\w.-]{1,64}$/), pixelSchema).default({}),
  keys: z.strictObject({ server: keyList, app: keyList, admin: keyList }).default({ server: [], app: [], admin: [] }),
  retry_schedule_seconds: z.array(z.number().min(0).max(7 * 86_400)).min(1).default([0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000]),
  retry_jitter: z.number().min(0).max(1).default(0.2),
  on_ambiguous: z.enum(ON_AMBIGUOUS).default('retry'),
  allow_insecure_router: z.boolean().default(false),
  /** record every fire's request and transcript without sending it (the built-in local setup) */
  dry_run: z.boolean().default(false),
  trust_proxy: z.number().int().min(0).max(10).default(0),
  /** per client address on /t, /i and /c, per key on /v1; 0 turns every limit off, the failed-key throttle too */
  rate_limit_per_minute: z.number().int().min(0).default(600),
  /** open connections the server takes; past it a new one is closed at once (keep it under the file-descriptor limit) */
  max_connections: z.number().int().min(1).default(10_000),
  /** failed key checks (dashboard login, Bearer) per client address in FAILED_KEY_WINDOW_MINS before a 429; 0: off */
  failed_key_limit: z.number().int().min(0).max(10_000).default(10),
  /** GET /metrics without the admin key (a scraper on a private network); Bearer <admin key> always works */
  metrics_public: z.boolean().default(false),
  honor_gpc: z.boolean().default(true),
  retention_days: z.number().int().min(1).max(3650).default(95),
  transcript_retention_days: z.number().int().min(1).max(3650).default(95),
  cookie_days: z.number().int().min(1).max(400).default(395),
  connect_timeout_ms: z.number().int().min(1).default(3000),
  request_timeout_ms: z.number().int().min(1).default(10_000),
  max_redirects: z.number().int().min(0).max(20).default(5),
  lease_seconds: z.number().min(0.05).default(60),
  max_in_flight: z.number().int().min(1).max(1024).default(64),
  poll_interval_ms: z.number().int().min(5).default(1000),
  dispatcher: z.boolean().default(true),
  migrate_on_start: z.boolean().default(true),
  hint_matching: z.boolean().default(false),
  hint_window_mins: z.number().int().min(1).max(1440).default(120),
  /** Microsoft's Report Service, for `sspx-relay reconcile --fetch` (collector/reconcile/report-service.ts) */
  report_service: z
    .strictObject({
      url: z.url().default('https://api.appnexus.com'),
      username: z.string().min(1),
      password: z.string().min(1),
      advertiser_id: z.number().int().positive(),
      poll_seconds: z.number().min(0.001).max(600).default(5),
      timeout_seconds: z.number().min(1).max(86_400).default(900),
    })
    .optional(),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof configSchema>;
export type PixelConfig = z.infer<typeof pixelSchema> & { name: string };
export type ConfigInput = z.input<typeof configSchema>;

export class ConfigError extends Error {}

/** where the built-in local setup keeps its store and its generated keys */
export const LOCAL_DATA_DIR = './data';

/**
 * The built-in local setup, used when no configuration file exists: a dry run (every fire recorded with the exact
 * URL and transcript, none sent: the README's pixel id is not the operator's), landing pages on localhost, the
 * embedded store; keys are generated on first start (collector/keys.ts). `sspx-relay init` writes a real one.
 */
export const SAMPLE_CONFIG: ConfigInput = {
  port: 8080,
  // this machine only: the local setup has generated keys and a dashboard, not for the network (SSPX_HOST opens it)
  host: '127.0.0.1',
  store: `sqlite:${LOCAL_DATA_DIR}/sspx.db`,
  dry_run: true,
  sites: [{ origin: 'http://localhost:*' }, { origin: 'http://127.0.0.1:*' }],
  pixels: { purchase: { id: 59633, trigger_type: 'hybrid', post_click_expire_mins: 43_200, post_view_expire_mins: 1440, min_minutes_per_conv: 0 } },
};

/** a window's minutes, exactly, in the largest unit that divides them: 129600 → "90 d", 90 → "90 min" */
const minutesText = (m: number) => (m % 1440 === 0 ? `${m / 1440} d` : m % 60 === 0 ? `${m / 60} h` : `${m} min`);

/**
 * How a pixel counts, in one line (the start banner's): its trigger type, effective windows and repeat rule, e.g.
 * `purchase (59633): hybrid · click 90 d · view 30 d · one per order id · one per visitor`.
 */
export function describePixel(name: string, p: Config['pixels'][string]): string {
  const click = `click ${minutesText(p.post_click_expire_mins)}`;
  const view = `view ${minutesText(p.post_view_expire_mins)}`;
  const windows = { click: [click], view: [`${view} (clicks count as impressions)`], hybrid: [click, view] }[p.trigger_type];
  const repeat = p.min_minutes_per_conv === null ? 'one per visitor'
    : p.min_minutes_per_conv === 0 ? 'every conversion of a visitor'
    : `one per visitor per ${minutesText(p.min_minutes_per_conv)}`;
  return `${name} (${p.id}): ${[p.trigger_type, ...windows, 'one per order id', repeat].join(' · ')}`;
}

/** Validates a configuration object; the error names every bad key. */
export function parseConfig(input: unknown): Config {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  checkRouter(config);
  const ids = new Map<number, string>();
  for (const [name, pixel] of Object.entries(config.pixels)) {
    const other = ids.get(pixel.id);
    if (other) throw new ConfigError(`invalid configuration:\n  pixels.${name}.id: ${pixel.id} is also pixels.${other}.id`);
    ids.set(pixel.id, name);
  }
  return config;
}

/** The router is fixed by the operator: https, and never a link-local or metadata address. */
function checkRouter(config: Config): void {
  const url = new URL(config.router);
  const host = url.hostname;
  const bad = (why: string) => new ConfigError(`invalid configuration:\n  router: ${why}`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad(`must be an https:// URL, not ${url.protocol}`);
  if (url.search || url.hash) throw bad('must not carry a query or fragment; the collector adds the parameters');
  if (url.username || url.password) throw bad('must not carry credentials');
  const kind = hostClass(host);
  if (kind === 'metadata') throw bad(`${host} is a link-local or metadata address`);
  if (config.allow_insecure_router) return;
  if (url.protocol !== 'https:') throw bad('must be https (set allow_insecure_router for local testing)');
  if (kind === 'local') throw bad(`${host} is a loopback or private address (set allow_insecure_router for local testing)`);
}

const scalarKeys = Object.entries(configSchema.shape).filter(([, s]) => {
  const t = (s as z.ZodType).def.type === 'default' || (s as z.ZodType).def.type === 'optional'
    ? ((s as z.ZodDefault<z.ZodType>).def.innerType as z.ZodType).def.type
    : (s as z.ZodType).def.type;
  return ['string', 'number', 'boolean', 'enum'].includes(t);
});

/** SSPX_PORT=9000 and friends: every top-level scalar, typed by the schema. */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of scalarKeys) {
    const raw = env[`SSPX_${key.toUpperCase()}`];
    if (raw === undefined || raw === '') continue;
    const probe = (schema as z.ZodType).safeParse(raw);
    if (probe.success) out[key] = raw;
    else if (raw === 'true' || raw === 'false') out[key] = raw === 'true';
    else if (/^-?\d+(\.\d+)?$/.test(raw)) out[key] = Number(raw);
    else out[key] = raw;
  }
  return out;
}

export interface LoadedConfig {
  config: Config;
  /** where it came from, for the start-up line */
  source: string;
  /** true for the built-in local setup (no configuration file) */
  builtIn: boolean;
}

/** Reads the file (or the built-in sample when the default file is absent), then the environment on top. */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const file = path ?? env.SSPX_CONFIG ?? DEFAULT_CONFIG_PATH;
  let input: unknown;
  let source: string;
  let builtIn = false;
  if (existsSync(file)) {
    try {
      input = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`invalid configuration: ${file} is not valid JSON (${(err as Error).message})`);
    }
    source = file;
  } else if (path) {
    throw new ConfigError(`configuration file ${path} does not exist`);
  } else {
    input = SAMPLE_CONFIG;
    source = `built-in local setup (no ${file}): a dry run, nothing is sent`;
    builtIn = true;
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError('invalid configuration:\n  (top level): must be a JSON object');
  }
  return { config: parseConfig({ ...input, ...envOverrides(env) }), source, builtIn };
}

/** the pixel id a command-line reference means: a configured name or id, or any numeric id */
export function pixelIdOf(config: Config, ref: string): number | undefined {
  return findPixel(config, ref)?.id ?? (/^\d{1,12}$/.test(ref) ? Number(ref) : undefined);
}

/** Finds a pixel by its config key or its numeric id (as number or digits). */
export function findPixel(config: Config, ref: unknown): PixelConfig | undefined {
  // own keys only: `toString` or `__proto__` from a request must not find Object.prototype's members
  if (typeof ref === 'string' && Object.hasOwn(config.pixels, ref)) return { ...config.pixels[ref], name: ref };
  const id = typeof ref === 'number' ? ref : typeof ref === 'string' && /^\d{1,12}$/.test(ref) ? Number(ref) : NaN;
  for (const [name, pixel] of Object.entries(config.pixels)) if (pixel.id === id) return { ...pixel, name };
  return undefined;
}

// A landing page in jsdom that loads the built dist/sspx.js through a real <script src> tag (so
// document.currentScript and the tag's data- attributes work as in a browser), with the page's network
// (fetch, sendBeacon, Image) replaced by recorders. Shared by the snippet suites; not a test itself.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JSDOM, ResourceLoader, VirtualConsole } from 'jsdom';
import { scriptTouchFacts, scriptTouchSchema, type HintHeaders } from '../../collector/ingest/touches.js';
import { readLanding } from '../../snippet/landing.js';
import { isMacro } from '../../snippet/token.js';
import { markKind } from '../support/kinds.js';

export const SCRIPT_PATH = fileURLToPath(new URL('../../dist/sspx.js', import.meta.url));
export const COLLECTOR = 'https://collect.example';
const script = readFileSync(SCRIPT_PATH);

/** one request the script made, with its JSON body parsed */
export interface Sent {
  via: 'fetch' | 'beacon' | 'image';
  /** collector path: /t or /c */
  path: string;
  url: string;
  body: any;
  /** the raw body string (fetch, beacon) */
  raw?: string;
  init?: RequestInit;
}

export interface PageOptions {
  /** the landing URL, with the token and friends */
  url: string;
  /** data- attributes of the tag, without the `data-` prefix */
  attrs?: Record<string, string>;
  /** inline page script that runs before the tag: the queue stub, queued calls, the page's own code */
  before?: string;
  /** body HTML (links to decorate) */
  body?: string;
  /** how many copies of the tag the page carries */
  tags?: number;
  /** which transports the browser has */
  transport?: 'fetch' | 'fetch-throws' | 'fetch-rejects' | 'beacon' | 'beacon-false' | 'none';
  /** the collector's JSON answer per path (by default a touch's, or for an unreplaced macro the drop, as the
   * collector answers them) */
  answers?: Record<string, unknown>;
  /** localStorage content before the page loads, or 'throws' for disabled storage */
  storage?: Record<string, string> | 'throws';
  referrer?: string;
  /** the URL the page was navigated to, as performance's navigation entry gives it (jsdom has none): by default the
   * page's URL; null for a browser without navigation timing */
  navigated?: string | null;
}

export interface Page {
  window: any;
  sent: Sent[];
  /** console.log lines */
  logs: string[];
  /** console.warn lines */
  warnings: string[];
  /** exceptions that escaped into the page */
  errors: unknown[];
  /** lets pending promises and timers run */
  flush(): Promise<void>;
  close(): void;
}

export const STUB = 'window.sspx=window.sspx||function(){(sspx.q=sspx.q||[]).push(arguments)};';

const DEFAULT_ANSWERS: Record<string, unknown> = {
  '/t': { cid: 'cid-1' },
  '/c': { outcome: 'attributed', conversion_id: 'conv-1', fire_id: 'fire-1' },
};
/** what the collector answers a touch whose only value is an unreplaced macro */
const MACRO_ANSWER = { dropped: 'unreplaced_macro' };

class ScriptLoader extends ResourceLoader {
  override fetch(url: string, options: any) {
    if (url.endsWith('/sspx.js')) return Promise.resolve(script) as any;
    return super.fetch(url, options);
  }
}

const escapeAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/** opens the landing page and resolves once the script has run and its first sends have settled */
export async function openLanding(opts: PageOptions): Promise<Page> {
  markKind('jsdom');
  const sent: Sent[] = [];
  const logs: string[] = [];
  const warnings: string[] = [];
  const errors: unknown[] = [];
  const answers = { ...DEFAULT_ANSWERS, ...opts.answers };
  const transport = opts.transport ?? 'fetch';

  const virtualConsole = new VirtualConsole();
  // an object (the collector's answer) as JSON, as a console shows its keys and values
  const line = (a: unknown[]) => a.map((v) => (v && typeof v == 'object' && !(v instanceof Error) ? JSON.stringify(v) : String(v))).join(' ');
  virtualConsole.on('log', (...a: unknown[]) => logs.push(line(a)));
  virtualConsole.on('warn', (...a: unknown[]) => warnings.push(a.join(' ')));
  virtualConsole.on('jsdomError', (e: Error) => errors.push(e));

  const attrs = Object.entries(opts.attrs ?? {})
    .map(([k, v]) => ` data-${k}="${escapeAttr(v)}"`)
    .join('');
  const tag = `<script async src="${COLLECTOR}/sspx.js"${attrs}></script>`;
  const html =
    `<!doctype html><html><head><script>${opts.before ?? ''}</script>` +
    tag.repeat(opts.tags ?? 1) +
    `</head><body>${opts.body ?? ''}</body></html>`;

  // the script may pass a URL object: the browser takes its string
  const record = (via: Sent['via'], url: string | URL, raw: string, init?: RequestInit) => {
    const path = new URL(url).pathname;
    sent.push({ via, path, url: String(url), raw, body: JSON.parse(raw), init });
  };

  const dom = new JSDOM(html, {
    url: opts.url,
    referrer: opts.referrer,
    runScripts: 'dangerously',
    resources: new ScriptLoader(),
    virtualConsole,
    beforeParse(window: any) {
      if (transport === 'fetch' || transport === 'fetch-rejects')
        window.fetch = (url: string | URL, init: RequestInit) => {
          record('fetch', url, init.body as string, init);
          if (transport === 'fetch-rejects') return Promise.reject(new TypeError('Failed to fetch'));
          const path = new URL(url).pathname;
          const macro = path == '/t' && !(opts.answers && '/t' in opts.answers) && isDiagnostic(JSON.parse(init.body as string));
          const answer = macro ? MACRO_ANSWER : answers[path];
          return Promise.resolve({ json: () => Promise.resolve(answer) });
        };
      if (transport === 'fetch-throws')
        window.fetch = () => {
          throw new TypeError('fetch is blocked');
        };
      if (transport !== 'none')
        window.navigator.sendBeacon = (url: string | URL, body: string) => {
          if (transport === 'beacon-false') return false;
          record('beacon', url, body);
          return true;
        };
      window.Image = class {
        set src(url: string) {
          const b = new URL(url).searchParams.get('b') ?? '';
          const u = new URL(url);
          u.search = '';
          sent.push({ via: 'image', path: u.pathname, url, body: JSON.parse(b) });
        }
      };
      if (opts.storage === 'throws')
        Object.defineProperty(window, 'localStorage', {
          get() {
            throw new window.DOMException('The operation is insecure.', 'SecurityError');
          },
        });
      else for (const [k, v] of Object.entries(opts.storage ?? {})) window.localStorage.setItem(k, v);
      const navigated = opts.navigated === undefined ? opts.url : opts.navigated;
      window.performance.getEntriesByType = (type: string) => (type === 'navigation' && navigated !== null ? [{ name: navigated }] : []);
      window.addEventListener('error', (e: any) => errors.push(e.error ?? e.message));
    },
  });

  const window = dom.window as any;
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
  };
  await new Promise((resolve) => window.addEventListener('load', resolve));
  await flush();
  return { window, sent, logs, warnings, errors, flush, close: () => window.close() };
}

/** a /t body as the collector reads it (scriptTouchSchema): the landing URL is the current one when none was sent */
export const readTouch = (body: any) => scriptTouchSchema.parse(body);
/** the token the collector reads from a /t body: the script's URLs hold it (scriptTouchFacts) */
export const tokenOf = (body: any): string | undefined => scriptTouchFacts(readTouch(body)).token as string | undefined;
/** true for a /t body the collector counts as an unreplaced macro, not a touch */
const isDiagnostic = (body: any) => isMacro(tokenOf(body) ?? '');
/** the touches (not the diagnostics) a page sent: /t whose URLs hold a token */
export const touches = (page: Page) => page.sent.filter((s) => s.path === '/t' && !isDiagnostic(s.body));
/** the macro diagnostics a page sent: /t whose URLs hold only an unreplaced macro, which the collector counts */
export const diagnostics = (page: Page) => page.sent.filter((s) => s.path === '/t' && isDiagnostic(s.body));

/** a touch's landing URL and device ids as the collector reads them from the body (the one shared parser, which
 * the script leaves the stripping and the ids to): the URL without the token params, the ids named by data-ids */
export const landingOf = (body: any) => {
  const { url, ids } = readLanding(readTouch(body).u!, body.a?.params, body.a?.ids);
  return { url, ids: Object.keys(ids).length ? { ...ids } : undefined };
};
/** what the collector stores of a touch's body and the request's headers (its URL cleaned, ids normalised, the hints
 * under their stored keys) */
export const storedOf = (body: any, headers: HintHeaders = {}) => scriptTouchFacts(scriptTouchSchema.parse(body), headers);
/** the conversions a page sent */
export const conversions = (page: Page) => page.sent.filter((s) => s.path === '/c');

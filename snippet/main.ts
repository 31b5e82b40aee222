// The landing-page script: reads the tag's data- attributes and the landing URL, sends the touch once consent
// allows when the URL may hold the token (or its unreplaced macro), remembers the click id, decorates links with
// it, and answers the page's sspx(...) calls, replaying those the stub queued before it loaded.
//
// Written plainly, in sections; rollup and terser (rollup.config.mjs) make it small. What the collector can do
// for itself is left to it: it picks the token (or the macro, which it counts) from the URLs the script sends,
// strips the token params from the landing URL and reads the device ids there (./landing.ts), takes the language
// from Accept-Language and the client hints from Sec-CH-UA-Mobile and Sec-CH-UA-Platform, and names the reason in
// its answer, which data-debug prints. No exception ever escapes into the page, and nothing but window.sspx is
// left in its globals.
import { params as tokenParams, PIECE } from './landing.js';
import { decodeValue, NOT_TOKEN } from './token.js';

/** What the collector's /t answers: the touch's click id, or why it stored nothing (`dropped`: a bot, Sec-GPC, an
 * unreplaced macro; `error`: a refusal). data-debug prints it as it is. */
interface TouchAnswer {
  cid?: string;
}
type Callback = (value: unknown) => void;
type Command = ((name: unknown, arg?: any, callback?: Callback) => void) & { sspx?: Command };

const tag = document.currentScript as HTMLScriptElement;
const stub: (Command & { q?: IArguments[] }) | undefined = (window as any).sspx;

/** data-debug: say why on the console */
let debug: boolean;
/** where the script came from (or data-collector): /t and /c go to its origin */
let collector: URL;
/** data-decorate; none once it proved malformed or consent was refused */
let selector: string | undefined;
/** the click id: links get it, conversions carry it */
let cid: string | undefined;
/** opens the consent gate */
let allow!: () => void;
/** the consent gate, then the touch's answer: what every command waits on */
let ready: Promise<unknown>;

// ---- console ------------------------------------------------------------------------------------------------

/** `[sspx] why` on the console: reasons only with data-debug, warnings always. `why` goes as its own argument, so
 * nothing is converted and nothing can throw here. */
const warn = (why: unknown) => console.warn('[sspx]', why);
const say = (why: unknown) => debug && console.log('[sspx]', why);

// ---- token reading ------------------------------------------------------------------------------------------

/** The touch, when the landing URL calls for one: some value under a data-params name may be the token or its
 * unreplaced macro (query before fragment; anything else, such as whitespace, quotes or over-long, is never sent).
 * The collector picks the token among those values (or counts the macro) from the same URLs, read the same way
 * (./landing.ts tokenValues). The URL the page was navigated to comes first: a "clean URL" script or a router may
 * have rewritten the current one before this ran, or put the token there. */
const touchOf = (data: DOMStringMap) => {
  const names = tokenParams(data.params);
  // the landing URL: the one the page was navigated to; none in a browser without navigation timing, where the
  // collector takes the current one for it
  const landing = (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined)?.name;
  // both URLs in one string: the `#` between them ends the first one's last piece (without a landing URL, the
  // `undefined` before it is a piece named by no data-params)
  for (const [, name, raw] of (landing + '#' + document.URL).matchAll(PIECE))
    if (names.includes(name) && !NOT_TOKEN.test(decodeValue(raw)))
      // the landing URL as it is, the current one and the tag's attributes: the collector reads the token (v after
      // u) and the data-ids there, and strips data-params from the URL it keeps (./landing.ts)
      return { u: landing, v: document.URL, a: data, r: document.referrer };
};

// ---- transport ----------------------------------------------------------------------------------------------

/** POSTs a JSON body as text/plain (CORS-simple: no preflight) that survives navigation, and gives the answer.
 * Without fetch, a beacon, else an image (GET ?b=); neither has an answer, so it rejects with 'beacon'. */
const send = (path: string, body: object): Promise<any> => {
  const url = new URL(path, collector);
  const text = JSON.stringify(body);
  try {
    return fetch(url, { method: 'POST', body: text, keepalive: true, credentials: 'include' }).then((r) => r.json());
  } catch {
    if (!navigator.sendBeacon?.(url, text)) new Image().src = url + '?b=' + encodeURIComponent(text);
    throw 'beacon';
  }
};

// ---- link decoration ----------------------------------------------------------------------------------------

/** Appends the click id to every link matching data-decorate that lacks it. A malformed selector warns once. */
const decorate = () => {
  try {
    if (selector && cid)
      for (const link of document.querySelectorAll<HTMLAnchorElement>(selector)) {
        const query = link.search;
        const id = 'sspx_cid=' + cid;
        if (query.includes('sspx_cid')) continue;
        // Google Play hands the app only its referrer parameter: there the id goes inside it, encoded, first
        if (link.host == 'play.google.com')
          link.search = query.replace(/[?&]referrer=|$/, (referrer) => (referrer || (query && '&') + 'referrer=') + encodeURIComponent(id + (referrer && '&')));
        else link.search = query + (query && '&') + id;
      }
  } catch (e) {
    warn(e);
    selector = '';
  }
};

/** the touch's answer (or its failure, or none when no touch went out): data-debug prints it; its click id is kept
 * for later pages, else the one kept before is used */
const settle = (answer?: TouchAnswer) => {
  cid = answer?.cid;
  say(answer ?? 'no token');
  try {
    if (cid) localStorage.sspx_cid = cid;
    else cid = localStorage.sspx_cid;
  } catch {} // storage may be disabled and throw
  decorate();
};

// ---- command queue ------------------------------------------------------------------------------------------

/** a closed consent gate; `allow` opens it */
const gate = () => new Promise<void>((resolve) => (allow = resolve));

/** The real window.sspx. A refusal drops what waits and stops decorating links. Callbacks run on the promise,
 * so what they throw (or a callback that is no function) stays with us. */
const command: Command = (name, arg, callback) => {
  if (name == 'consent') {
    if (arg === true) allow();
    else {
      // a fresh, closed gate: whatever waited on the old one is dropped with it
      ready = gate();
      selector = '';
    }
  } else
    ready
      .then(() => (name == 'cid' ? cid : name == 'convert' ? send('/c', { ...arg, cid }) : warn(name)))
      .catch((e) => ({ error: '' + e }))
      .then(callback || arg) // cid's callback is its arg; convert's arg is no function, so it is passed over
      .catch(warn);
};

// ---- start --------------------------------------------------------------------------------------------------

try {
  // The real function carries a mark: a second copy of the tag finds it and stays quiet.
  if (!stub?.sspx) {
    const data = tag.dataset;
    // the collector serves the script, so by default /t and /c go to where sspx.js came from; data-collector
    // names another origin (its path is not used: /t and /c are the origin's). An inline copy (no src) throws here.
    collector = new URL(data.collector || tag.src);
    selector = data.decorate;
    debug = 'debug' in data;
    const touch = touchOf(data);
    ready = gate()
      .then(() => touch && send('/t', touch))
      .then(settle, settle);
    // anything but an explicit grant (or no attribute) waits; the reason logged is the value, e.g. `pending`
    const consent = data.consent ?? 'granted';
    if (consent == 'granted') allow();
    else say(consent);
    // links that appear later get the id just before the browser follows them
    addEventListener('click', decorate, true);
    // replay in order, then take over
    for (const args of stub?.q || []) command(...(args as unknown as Parameters<Command>));
    (window as any).sspx = command.sspx = command;
  }
} catch (e) {
  warn(e);
}

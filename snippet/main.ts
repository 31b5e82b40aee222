// The landing-page script, one closure: reads the tag's data- attributes and the landing URL, sends the touch
// (or the macro diagnostic) once consent allows, remembers the click id, decorates links with it, and
// answers the page's sspx(...) calls, replaying those the stub queued before it loaded.
// Every byte ships on every landing page, so this is written for terser and gzip -9 (the size test's measure):
// one module, arrows, expressions over statements, and each browser API named once where possible. No exception
// ever escapes into the page.
import { params as tokenParams, PIECE } from './landing.js';
import { decode, isMacro, NOT_TOKEN } from './token.js';

const tag = document.currentScript as HTMLScriptElement;
const stub = (self as any).sspx;

// State is module variables, not object properties, so terser mangles every name (rollup.config.mjs also turns
// these top-level declarations into one `var` list).
let /** console method for reasons: 'log' with data-debug, else nothing */ debug: any,
  /** where /t and /c go */ collector: URL,
  /** data-decorate; 0 once it proved malformed or consent was refused */ selector: any,
  /** the first valid token in the URL */ token: any,
  /** the name of the first token param that held an unreplaced macro */ macro: any,
  /** the click id: links get it, conversions carry it */ cid: any,
  /** opens the consent gate */ allow: any,
  /** the consent gate, then the touch's answer: what every command waits on */ ready: Promise<any>,
  /** the tag's data- attributes */ data: DOMStringMap,
  /** data-params as a list */ params: string[],
  // scratch: a decoded URL value; a link's query and whether it goes to Google Play
  value: any,
  query: string,
  play: boolean;

/** `[sspx] why` on the console: reasons only with data-debug; `why` goes as its own argument, so nothing
 * is converted and nothing can throw here */
const say = (why: unknown, method = debug) => method && (console as any)[method]('[sspx]', why);
const warn = (why: unknown) => say(why, 'warn');

/** POSTs a JSON body as text/plain (CORS-simple, no preflight) and survives navigation; gives the answer.
 * Without fetch, a beacon, else an image (GET ?b=); neither has an answer, so it rejects with 'beacon'. */
const send = (path: string, body: object, url = new URL(path, collector) as any, text = JSON.stringify(body)): Promise<any> => {
  try {
    // 1 for true here and in addEventListener: WebIDL reads it as a boolean, and it is a byte shorter than !0
    return fetch(url, { method: 'POST', body: text, keepalive: 1 as any, credentials: 'include' }).then((r) => r.json());
  } catch {
    throw (navigator.sendBeacon?.(url, text) || (new Image().src = url + '?b=' + encodeURIComponent(text)), 'beacon');
  }
};

/** appends the click id to every link matching data-decorate that lacks it; Google Play hands only its
 * `referrer` parameter to the app, so there it goes inside that, encoded. A malformed selector warns once. */
const decorate = () => {
  try {
    selector &&
      cid &&
      document.querySelectorAll<HTMLAnchorElement>(selector).forEach(
        (link) => (
          (play = link.host == 'play.google.com'),
          (query = link.search).includes('sspx_cid') ||
            // the match is an existing referrer parameter (any link), else the end of the query
            (link.search = query.replace(
              /[?#&]referrer=[^?#&]*|$/,
              (referrer) => (referrer ? referrer + (play ? '%26' : '&') : (query && '&') + (play ? 'referrer=' : '')) + 'sspx_cid' + (play ? '%3D' : '=') + cid,
            ))
        ),
      );
  } catch (e) {
    warn(e);
    selector = 0;
  }
};

/** the touch's answer (or failure): its click id, kept for later pages, else the one kept before */
const settle = (answer?: any) => {
  try {
    (cid = answer?.cid) ? (localStorage.sspx_cid = cid) : (cid = localStorage.sspx_cid);
  } catch {} // storage may be disabled and throw
  decorate();
};

/** the real window.sspx. A refusal drops what waits and stops decorating links. Callbacks run on the
 * promise, so what they throw (or a callback that is no function) stays with us. */
const command = (name: unknown, arg?: any, callback?: any) =>
  name == 'consent'
    ? arg === true
      ? allow()
      : // a fresh, closed gate: whatever waited on the old one is dropped with it
        ((ready = new Promise((resolve) => (allow = resolve))), (selector = 0))
    : ready
        .then(() => (name == 'cid' ? cid : name == 'convert' ? send('/c', { ...arg, cid }) : warn(name)))
        .catch((e) => ({ error: '' + e }))
        .then(callback || arg) // cid's callback is its arg; convert's arg is no function, so it is passed over
        .catch(warn);

try {
  // The real function carries a mark: a second copy of the tag finds it and stays quiet.
  if (!stub?.sspx) {
    data = tag.dataset;
    params = tokenParams(data.params);
    // The collector serves the script, so by default /t and /c are on the origin sspx.js came from; data-collector
    // names another origin. An inline copy (no src) throws here.
    collector = new URL(data.collector || tag.src);
    selector = data.decorate;
    debug = 'debug' in data && 'log';
    // query before fragment, left to right: the first valid token wins, else the first macro is reported.
    // Only read here: the collector strips the token params from the URL and picks out the ids (../landing.ts).
    document.URL.replace(PIECE, ((_piece: string, name: string, raw: string) =>
      params.includes(name) &&
      // a macro in raw is one in its decoded value too
      (isMacro(raw) ? macro || (macro = name) : NOT_TOKEN.test((value = decode(raw))) || isMacro(value) || token || (token = value))) as any);
    say(token ? 'touch' : macro ? 'macro' : 'no token');
    ready = new Promise((resolve) => (allow = resolve))
      .then(
        () =>
          (token || macro) &&
          send(
            '/t',
            token
              ? {
                  t: token,
                  // the URL as it is and the tag's attributes: the collector strips data-params from it and reads the
                  // data-ids there (../landing.ts), so the script need not
                  u: document.URL,
                  a: data,
                  r: document.referrer, // '' is none
                  w: screen.width,
                  h: screen.height,
                  d: devicePixelRatio,
                  l: navigator.language,
                  // the IANA time zone is its timeZone; the rest (locale, calendar, numbering system) is dropped there
                  z: Intl.DateTimeFormat().resolvedOptions(),
                  // low-entropy client hints, Chromium only: its toJSON gives {brands, mobile, platform}
                  c: (navigator as any).userAgentData,
                }
              : // the diagnostic: the param that held the macro, nothing else
                { p: macro },
          ),
      )
      .then(settle, settle);
    // anything but an explicit grant (or no attribute) waits; the reason logged is the value, e.g. `pending`
    [, 'granted'].includes(data.consent) ? allow() : say(data.consent);
    // links that appear later get the id just before the browser follows them
    addEventListener('click', decorate, 1 as any);
    // replay in order, then take over
    stub?.q?.map((args: [any]) => command(...args));
    (self as any).sspx = (command as any).sspx = command;
  }
} catch (e) {
  warn(e);
}

// The landing-page script, one closure: reads the tag's data- attributes and the landing URL, sends the touch
// (or the macro diagnostic) once consent allows, remembers the click id, decorates links with it, and
// answers the page's sspx(...) calls, replaying those the stub queued before it loaded.
// Every byte ships on every landing page, so this is written for the minifier and gzip: state lives in
// module variables (terser mangles them), helpers are arrows, and no exception ever escapes into the page.
import { decode, isMacro, isTokenText } from './token.js';

var tag = document.currentScript as HTMLScriptElement;
var stub = (window as any).sspx;

var /** console method for reasons: 'log' with data-debug, else nothing */ debug: any,
  /** where /t and /c go */ collector: string,
  /** data-decorate, or 0 once it proved malformed */ selector: any,
  /** the first valid token, or the name of the first param that held a macro */ token: any,
  macro: any,
  /** the configured device ids found in the URL, if any */ ids: any,
  /** the click id links get and conversions carry */ cid: any,
  /** opens the consent gate; the gate, then the touch's answer, is what every send waits on */ allow: any,
  ready: Promise<any>,
  // scratch for decorate()
  play: boolean,
  query: string;

/** `[sspx] why` on the console: reasons only with data-debug; `why` goes as its own argument, so nothing
 * is converted and nothing can throw here */
var say = (why: unknown, method = debug) => method && (console as any)[method]('[sspx]', why);
var warn = (why: unknown) => say(why, 'warn');

/** a comma (or space) separated list, empty entries dropped */
var list = (value?: string): string[] => (value || '').match(/[^\s,]+/g) || [];

/** POSTs a JSON body as text/plain (CORS-simple, no preflight) and survives navigation; gives the answer.
 * Without fetch, a beacon, else an image (GET ?b=); neither has an answer, so it rejects with 'beacon'. */
var send = (path: string, body: object): Promise<any> => {
  const url = collector.replace(/\/?$/, path),
    text = JSON.stringify(body);
  try {
    return fetch(url, { method: 'POST', body: text, keepalive: true, credentials: 'include' }).then((r) => r.json());
  } catch {
    throw (navigator.sendBeacon?.(url, text) || (new Image().src = url + '?b=' + encodeURIComponent(text)), 'beacon');
  }
};

/** appends the click id to every link matching data-decorate that lacks it; Google Play hands only its
 * `referrer` parameter to the app, so there it goes inside that, encoded. A malformed selector warns once. */
var decorate = (_?: unknown) => {
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

/** a fresh, closed gate; whatever waited on the old one is dropped with it */
var close = () => (ready = new Promise((resolve) => (allow = resolve)));

/** the touch's answer (or failure): its click id, kept for later pages, else the one kept before */
var settle = (answer?: any) => {
  try {
    (cid = answer?.cid) ? (localStorage.sspx_cid = cid) : (cid = localStorage.sspx_cid);
  } catch {} // storage may be disabled and throw
  decorate();
};

/** the real window.sspx. A refusal drops what waits, and this page's id with it. Callbacks run on the
 * promise, so what they throw (or a callback that is no function) stays with us. */
var command = (name: unknown, arg?: any, callback?: any) =>
  name == 'consent'
    ? arg === true
      ? allow()
      : (close(), decorate((cid = undefined)))
    : ready
        .then(() => (name == 'cid' ? cid : name == 'convert' ? send('/c', { ...arg, cid }) : warn(name)))
        .catch((e) => ({ error: '' + e }))
        .then(name == 'cid' ? arg : callback)
        .catch(warn);

try {
  // The real function carries a mark: a second copy of the tag finds it and stays quiet.
  if (!stub?.sspx) {
    const data = tag.dataset,
      params = list(data.params || 'sspdata'),
      idNames = list(data.ids);
    // The collector serves the script, so by default it is where sspx.js came from (an inline copy throws).
    collector = data.collector || new URL(tag.src).origin;
    selector = data.decorate;
    debug = 'debug' in data && 'log';
    // Every `name=value` between `?`, `#` and `&` is a piece, so `#sspdata=…` and `#/route?sspdata=…` read
    // like a query; parsed by hand because URLSearchParams turns `+` into a space. A token param goes with
    // its trailing `&`; the separators it leaves dangling are trimmed last.
    const landing = location.href
      .replace(/([^?#&=]*)=?([^?#&]*)&?/g, (piece, name: string, raw: string) => {
        const value = decode(raw);
        return params.includes(name)
          ? // query before fragment, left to right: the first valid token wins, else the first macro is reported
            (isTokenText(value) ? token || (token = value) : isMacro(raw) && (macro || (macro = name)), '')
          : (idNames.includes(name) && !value[128] && (ids = { ...ids, [name]: value }), piece);
      })
      .replace(/[?#&]+(?=#|$)/g, '');
    say(token ? 'touch' : macro ? 'macro' : 'no token');
    ready = close()
      .then(
        () =>
          (token || macro) &&
          send(
            '/t',
            token
              ? {
                  t: token,
                  u: landing,
                  r: document.referrer || undefined, // JSON leaves undefined out
                  w: screen.width,
                  h: screen.height,
                  d: devicePixelRatio,
                  l: navigator.language,
                  z: Intl.DateTimeFormat().resolvedOptions().timeZone,
                  // low-entropy client hints, Chromium only
                  mo: (navigator as any).userAgentData?.mobile,
                  pf: (navigator as any).userAgentData?.platform,
                  ids,
                }
              : { e: 'macro', p: macro, u: landing },
          ),
      )
      .then(settle, settle);
    // anything but an explicit grant (or no attribute) waits
    [, 'granted'].includes(data.consent) ? allow() : say(data.consent);
    // links that appear later get the id just before the browser follows them
    addEventListener('click', decorate, true);
    // replay in order, then take over
    stub?.q?.map((args: [any]) => command(...args));
    (((window as any).sspx = command) as any).sspx = 1;
  }
} catch (e) {
  warn(e);
}

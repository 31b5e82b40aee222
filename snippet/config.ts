// The tag's own data- attributes, read in one place with their defaults beside them, and the one logger.
// Settings are module variables, not object properties, so terser can mangle every name.

/** Our own <script>: document.currentScript is only set while it runs, so it is captured right away. */
const tag = (document.currentScript || document.querySelector('script[src*="sspx.js"]')) as HTMLScriptElement;

export let collector: string, params: string[], ids: string[], pending: boolean, selector: string | undefined, debug: boolean;

/** a comma (or space) separated list, empty entries dropped */
const list = (value: string) => value.match(/[^\s,]+/g) || [];

export function configure() {
  const {
    // The collector serves the script, so by default it is where sspx.js came from.
    collector: c = new URL(tag.src).origin,
    params: p = 'sspdata',
    ids: i = '',
    consent = 'granted',
    decorate,
    debug: d,
  } = tag.dataset;
  collector = c.replace(/\/$/, '');
  params = list(p);
  ids = list(i);
  pending = consent != 'granted'; // anything but an explicit grant waits
  selector = decorate; // a malformed one warns where it is first used (decorate.ts)
  debug = d != null;
}

/** `[sspx] why` on the console: warnings always, reasons for sending or skipping only with data-debug.
 * `why` goes as its own argument: nothing to convert, so nothing can throw here. */
export function say(why: unknown, warn?: 1) {
  (warn || debug) && console[warn ? 'warn' : 'log']('[sspx]', why);
}

/** runs a page-supplied callback; whatever it throws stays with us */
export function safe(callback: any, value?: unknown) {
  try {
    callback && callback(value);
  } catch (e) {
    say(e, 1);
  }
}

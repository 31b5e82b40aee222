// Appends the click id to app-store and deep links, so the app (through the store's install referrer
// on Google Play) can hand it back to the collector.
import { say, selector } from './config.js';

/** the id links get: set once it is settled and consented to */
let cid: unknown;

/** decorates the link that is (or holds) this element, once; anything else is left alone */
export function decorate(element: Element) {
  try {
    const link = element.closest(selector!) as HTMLAnchorElement, // null throws below: not one of ours
      query = link.search,
      // Google Play hands only its `referrer` parameter to the app, so the id goes inside it, encoded.
      play = link.hostname == 'play.google.com';
    if (cid && !query.includes('sspx_cid'))
      // The match is an existing Play referrer, else the end of the query.
      link.search = query.replace(play ? /[?&]referrer=[^&]*|$/ : /$/, (referrer) =>
        referrer ? referrer + '%26sspx_cid%3D' + cid : (query && '&') + (play ? 'referrer=sspx_cid%3D' : 'sspx_cid=') + cid,
      );
  } catch {}
}

/** gives links the id (or takes it away) and decorates those on the page now; a malformed selector warns */
export function decorateAll(id: unknown) {
  cid = id;
  try {
    selector && document.querySelectorAll(selector).forEach(decorate);
  } catch (e) {
    say(e, 1);
  }
}

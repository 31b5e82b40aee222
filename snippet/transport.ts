// Sends one JSON body to the collector without blocking the page and surviving navigation.
// The body is a string, so fetch labels it text/plain: a CORS-simple request, no preflight.
import { collector } from './config.js';

/** POSTs body to the collector's path; gives the parsed JSON answer, or {error} when none can come */
export function send(path: string, body: object): Promise<any> | object {
  const url = collector + path,
    text = JSON.stringify(body);
  try {
    return fetch(url, { method: 'POST', body: text, keepalive: true, credentials: 'include' }).then((r) => r.json());
  } catch {
    // No fetch: a beacon (text/plain too); when the browser refuses it, an image (the collector also takes
    // GET ?b=). Neither gives an answer back.
    navigator.sendBeacon?.(url, text) || (new Image().src = url + '?b=' + encodeURIComponent(text));
    return { error: 'beacon' };
  }
}

// The page's commands (convert, consent, cid), the consent gate that holds every send until it is
// allowed, and the click id of this visit.
import { pending, safe, say } from './config.js';
import { decorateAll } from './decorate.js';
import { send } from './transport.js';

/** opens the gate */
let allow: () => void;
/** what every send waits on: consent, then the touch's answer (so conversions carry its id and cookie) */
export let ready: Promise<unknown>;
/** the click id: this visit's from the /t answer, else the one a previous visit stored */
let cid: string | undefined;

/** a fresh, closed gate; whatever waited on the old one is dropped with it */
const close = () => (ready = new Promise((resolve) => (allow = resolve)));

export function startQueue() {
  close();
  pending ? say('pending') : allow();
}

/** takes the collector's answer to the touch (or its absence) as this visit's click id */
export function settle(answer?: any) {
  try {
    (cid = answer?.cid) ? (localStorage.sspx_cid = cid) : (cid = localStorage.sspx_cid);
  } catch {} // storage may be disabled and throw
  decorateAll(cid);
}

/** the real window.sspx; nothing in it throws synchronously, and what runs later is caught */
export function command(name: unknown, arg?: any, callback?: unknown) {
  name == 'convert'
    ? ready
        .then(() => send('/c', { ...arg, cid }))
        .catch((e) => ({ error: '' + e }))
        .then((answer) => safe(callback, answer))
    : name == 'cid'
      ? ready.then(() => safe(arg, cid))
      : name == 'consent'
        ? // Refused: what was held is dropped, and links stop getting the id.
          arg === true
          ? allow()
          : (close(), decorateAll(0))
        : say(name, 1);
}

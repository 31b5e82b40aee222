// The page's commands (convert, consent, cid), the consent gate every send waits behind, and the click
// id of this visit.
import { pending, safe, say } from './config.js';
import { decorateAll } from './decorate.js';
import { send } from './transport.js';

/** opens the gate */
let allow: (value?: unknown) => void;
/** what every send waits on: consent, then the touch's answer (so a conversion carries its id and cookie) */
let ready: Promise<unknown>;
/** the click id: this visit's from the /t answer, else the one a previous visit stored */
let cid: string | undefined;

/** a fresh, closed gate; whatever waited on the old one is dropped with it */
const close = () => (ready = new Promise((resolve) => (allow = resolve)));

/** chains the first send (the touch) behind consent; its answer, or its failure, settles the click id */
export function startQueue(first: () => unknown) {
  close();
  ready = ready.then(first).then(settle, settle);
  pending ? say('pending') : allow();
}

/** the /t answer's click id (kept for later pages), else the stored one; then links get it */
function settle(answer?: any) {
  try {
    (cid = answer?.cid) ? (localStorage.sspx_cid = cid) : (cid = localStorage.sspx_cid);
  } catch {} // storage may be disabled and throw
  decorateAll(cid);
}

/** the real window.sspx. Nothing in it throws; what runs later is caught on its promise. */
export function command(name: unknown, arg?: any, callback?: unknown) {
  name == 'convert'
    ? ready
        .then(() => send('/c', { ...arg, cid }))
        .catch((e) => ({ error: '' + e }))
        .then((answer) => safe(callback, answer))
    : name == 'cid'
      ? ready.then(() => safe(arg, cid))
      : name == 'consent'
        ? arg === true
          ? allow()
          : // Refused: what waits is dropped, nothing more goes out until a later grant, links lose the id.
            (close(), decorateAll(0))
        : say(name, 1);
}

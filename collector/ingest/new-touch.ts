// The one place a touch row is built: the script's, an impression's, a backend's, a conversion's implicit click and
// an app's own deep link all become rows of the same shape, keeping of the landing URL and the referrer only what
// attribution needs (client.ts), whichever front gathered them.
import { randomId } from '../ids.js';
import type { Touch } from '../store/store.js';
import { touchIdOf } from '../store/touch-hashes.js';
import { landingUrl, referrerOrigin } from './client.js';

/** what a touch must say; everything else it may, and is null when it does not */
export type TouchFacts = Pick<Touch, 'kind' | 'source' | 'token' | 'occurred_at'> &
  Partial<Omit<Touch, 'id' | 'cid' | 'created_at' | 'kind' | 'source' | 'token' | 'occurred_at'>>;

/** the row, every field named (an object built by spreading facts over defaults cost a touch ~10 µs in V8's
 * generic property copy) */
export function newTouch(facts: TouchFacts, created_at: number): Touch {
  const cid = randomId();
  return {
    // the click id's first 96 bits: the store finds a touch by either through one index (store/touch-hashes.ts)
    id: touchIdOf(cid),
    cid,
    kind: facts.kind,
    source: facts.source,
    token: facts.token,
    visitor_id: facts.visitor_id ?? null,
    device_id: facts.device_id ?? null,
    site: facts.site ?? null,
    ip_prefix: facts.ip_prefix ?? null,
    user_agent: facts.user_agent ?? null,
    url: landingUrl(facts.url),
    referrer: referrerOrigin(facts.referrer),
    hints: facts.hints ?? null,
    hint_key: facts.hint_key ?? null,
    install_id: facts.install_id ?? null,
    occurred_at: facts.occurred_at,
    created_at,
  };
}

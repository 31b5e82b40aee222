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

export function newTouch(facts: TouchFacts, created_at: number): Touch {
  const cid = randomId();
  return {
    // the click id's first 96 bits: the store finds a touch by either through one index (store/touch-hashes.ts)
    id: touchIdOf(cid),
    cid,
    visitor_id: null,
    device_id: null,
    site: null,
    ip_prefix: null,
    user_agent: null,
    hints: null,
    hint_key: null,
    install_id: null,
    ...facts,
    url: landingUrl(facts.url),
    referrer: referrerOrigin(facts.referrer),
    created_at,
  };
}

// Rows for store tests: every field set, defaults beside them, anything overridable.
import { randomBytes } from 'node:crypto';
import type { Conversion, Fire, Install, NewAttempt, Touch } from '../../collector/store/store.js';
import { touchIdOf } from '../../collector/store/touch-hashes.js';

export const T0 = Date.UTC(2026, 0, 1);

const rand = () => randomBytes(9).toString('base64url');

/** a touch; its id is its click id's (collector/store/touch-hashes.ts) */
export function touch(over: Partial<Touch> = {}): Touch {
  const cid = over.cid ?? rand() + rand();
  return {
    id: touchIdOf(cid),
    kind: 'click',
    token: `ams1AAAA${rand()}.`,
    cid,
    visitor_id: null,
    device_id: null,
    site: 'https://shop.example',
    source: 'script',
    ip_prefix: '203.0.113.0/24',
    user_agent: 'Mozilla/5.0',
    url: 'https://shop.example/landing',
    referrer: null,
    hints: { lang: 'en', tz: 'Europe/Paris', screen: [1920, 1080] },
    hint_key: null,
    install_id: null,
    occurred_at: T0,
    created_at: T0,
    ...over,
  };
}

export function conversion(over: Partial<Conversion> = {}): Conversion {
  return {
    id: `c_${rand()}`,
    pixel_id: 59633,
    pixel: 'purchase',
    source: 'server',
    order_id: null,
    value: '10.50',
    other: null,
    visitor_id: null,
    token: null,
    cid: null,
    install_id: null,
    device_id: null,
    outcome: 'attributed',
    touch_id: null,
    user_key: null,
    dedup_key: null,
    duplicate_of: null,
    occurred_at: T0,
    created_at: T0,
    warning: null,
    rule: null,
    superseded_by: null,
    test: false,
    ...over,
  };
}

export function fire(over: Partial<Fire> = {}): Fire {
  return {
    id: `f_${rand()}`,
    conversion_id: `c_${rand()}`,
    pixel_id: 59633,
    order_id: null,
    value: null,
    other: null,
    token: `ams1AAAA${rand()}.`,
    state: 'queued',
    attempt_count: 0,
    next_attempt_at: T0,
    lease_owner: null,
    lease_expires_at: null,
    last_outcome: null,
    last_error: null,
    created_at: T0,
    updated_at: T0,
    fired_at: null,
    dry_run: false,
    test: false,
    sending_at: null,
    ...over,
  };
}

export function install(over: Partial<Install> = {}): Install {
  return {
    install_id: `inst-${rand()}`,
    platform: 'ios',
    touch_id: null,
    method: 'deep_link',
    confidence: 1,
    flags: null,
    device_id: null,
    bound_at: T0,
    created_at: T0,
    ...over,
  };
}

export function attempt(over: Partial<NewAttempt> = {}): NewAttempt {
  return {
    started_at: T0,
    duration_ms: 12.5,
    outcome: 'fired',
    error_class: null,
    status: 200,
    url: 'https://sspx-router.adnxs.com/sspx?id=59633&sspdata=x.',
    hops: [
      {
        request: { method: 'GET', url: 'https://sspx-router.adnxs.com/sspx?id=59633&sspdata=x.', headers: [['user-agent', 'sspx-relay']] },
        response: { http_version: '1.1', status: 302, status_text: 'Found', headers: [['location', 'https://ib.adnxs.com/x']], body_excerpt: '' },
        at_ms: 0,
        duration_ms: 7.25,
        remote_address: '127.0.0.1',
      },
    ],
    next_attempt_at: null,
    ...over,
  };
}

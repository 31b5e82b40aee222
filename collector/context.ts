// What every part of a running collector shares: configuration, store, clock, log and the event channel.
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Events } from './events.js';
import type { Store } from './store/store.js';

/** `S`: the store's roles a part uses (store/store.ts), the whole Store by default */
export interface Context<S = Store> {
  config: Config;
  store: S;
  clock: Clock;
  log: Logger;
  /** what ingest and the dispatcher report (metrics, logs and tests read it) */
  events: Events;
}

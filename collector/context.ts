// What every part of a running collector shares: configuration, store, clock, log and the event channel.
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Events } from './events.js';
import type { Store } from './store/store.js';

export interface Context {
  config: Config;
  store: Store;
  clock: Clock;
  log: Logger;
  /** what ingest and the dispatcher report (metrics, logs and tests read it) */
  events: Events;
}

// What every part of a running collector shares: configuration, store, clock and log.
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Store } from './store/store.js';

export interface Context {
  config: Config;
  store: Store;
  clock: Clock;
  log: Logger;
}

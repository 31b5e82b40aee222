// The one channel on which ingest and the dispatcher report what happened; metrics, logs and tests read it. One per
// collector (in its Context). A listener's mistake is logged and never reaches the code that emitted.
import type { AppOpenAnswer } from './ingest/installs.js';
import type { ConversionInput, ConversionResult } from './ingest/attribution.js';
import type { AttemptEvent } from './dispatch/dispatcher.js';
import type { TouchOutcome } from './vocabulary.js';

export interface CollectorEvents {
  /** a touch request: stored (reason: its kind), dropped (bot, prefetch, gpc, …) or refused (invalid_token, …) */
  touch: { outcome: TouchOutcome; reason: string };
  /** a touch recorded without the device ids it carried: its request may not name any (http/cors.ts deviceIdsAllowed) */
  device_ids_ignored: { route: '/t' | '/i' };
  /** an unreplaced ${SSP_DATA} macro, counted against `site` (a site origin, `app` or `unknown`) */
  macro: { site: string };
  /** a committed conversion */
  conversion: { result: ConversionResult; input: ConversionInput };
  /** an app open answered */
  app_open: AppOpenAnswer;
  /** an attempt recorded by the dispatcher `owner` */
  attempt: AttemptEvent & { owner: string };
  /** fires a claim took, or a stop gave back */
  claimed: { owner: string; count: number };
  released: { owner: string; count: number };
}

type Listener<K extends keyof CollectorEvents> = (event: CollectorEvents[K]) => void;

export class Events {
  private readonly listeners = new Map<keyof CollectorEvents, Set<Listener<never>>>();

  constructor(private readonly onListenerError: (err: unknown, event: string) => void = () => {}) {}

  /** subscribes; answers the unsubscribe */
  on<K extends keyof CollectorEvents>(name: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  emit<K extends keyof CollectorEvents>(name: K, event: CollectorEvents[K]): void {
    for (const listener of this.listeners.get(name) ?? []) {
      try {
        (listener as Listener<K>)(event);
      } catch (err) {
        this.onListenerError(err, name);
      }
    }
  }
}

// Marks what the store throws as a StoreError, so the HTTP edge answers 503 store_unavailable for an outage (disk
// full, a lost connection, a closed database) and not for a mistake of ours (a TypeError in ingest code is a 500).
// Errors a transaction's own callback throws (a Refusal, say) pass through unmarked.
import type { Store, Tx } from './store.js';

export class StoreError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'StoreError';
    if (cause instanceof Error && cause.stack) this.stack = `StoreError: ${cause.stack}`;
  }
}

export const isStoreError = (err: unknown): err is StoreError => err instanceof StoreError;

const mark = (err: unknown) => (err instanceof StoreError ? err : new StoreError(err));

/** every method of `target`, its errors marked; `transaction` also guards its Tx and lets the callback's own errors through */
function guard<T extends object>(target: T): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, key, receiver) {
      const value = Reflect.get(t, key, receiver);
      if (typeof value !== 'function' || key === 'constructor') return value;
      let fn = wrapped.get(key);
      if (!fn) {
        fn = (...args: unknown[]) => {
          if (key === 'transaction') {
            const own = new WeakSet<object>();
            const body = args[0] as (tx: Tx) => Promise<unknown>;
            args[0] = (tx: Tx) =>
              body(guard(tx)).catch((err: unknown) => {
                if (typeof err === 'object' && err !== null && !(err instanceof StoreError)) own.add(err);
                throw err;
              });
            return (value as (...a: unknown[]) => Promise<unknown>).apply(t, args).catch((err: unknown) => {
              throw typeof err === 'object' && err !== null && own.has(err) ? err : mark(err);
            });
          }
          let out: unknown;
          try {
            out = (value as (...a: unknown[]) => unknown).apply(t, args);
          } catch (err) {
            throw mark(err);
          }
          return out instanceof Promise ? out.catch((err: unknown) => Promise.reject(mark(err))) : out;
        };
        wrapped.set(key, fn);
      }
      return fn;
    },
  });
}

export function guardStore<S extends Store>(store: S): S {
  return guard(store);
}

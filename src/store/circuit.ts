/**
 * Fast 503s while the database is known to be down. Without this every request waits for its own
 * connection attempt to time out (2-16 s seen with PostgreSQL stopped). After a call fails with
 * {@linkcode StoreUnavailableError}, calls fail at once for `cooldownMs`; then one call at a time
 * is let through to find out whether the store is back.
 *
 * @module
 */
import { type Store, StoreUnavailableError } from "./store.ts";

/** Wraps every method of `store` that returns a promise; `close` always goes through. */
export function withCircuitBreaker(
  store: Store,
  cooldownMs = 2000,
  now: () => number = Date.now,
): Store {
  let openUntil = 0;
  let lastError = "";
  let probing = false;
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || prop === "close") return value;
      return (...args: unknown[]) => {
        const t = now();
        if (t < openUntil || (probing && openUntil !== 0)) {
          return Promise.reject(
            new StoreUnavailableError(`store unavailable (recent failure: ${lastError})`),
          );
        }
        const wasOpen = openUntil !== 0;
        if (wasOpen) probing = true;
        let result: unknown;
        try {
          result = value.apply(target, args);
        } catch (err) {
          probing = false;
          throw err;
        }
        if (!(result instanceof Promise)) {
          probing = false;
          return result;
        }
        return result.then((v) => {
          if (wasOpen) probing = false;
          openUntil = 0;
          return v;
        }, (err) => {
          if (wasOpen) probing = false;
          if (err instanceof StoreUnavailableError) {
            openUntil = now() + cooldownMs;
            lastError = err.message;
          }
          throw err;
        });
      };
    },
  });
}

/**
 * Sign-in throttling: after {@link ThrottleOptions.limit} failed sign-ins from one client address
 * within {@link ThrottleOptions.windowMs}, further attempts are refused without checking the token,
 * so the admin token cannot be guessed quickly. Memory is bounded: failures older than the window
 * are dropped, and at most {@link ThrottleOptions.maxClients} addresses are remembered (the least
 * recently failing is forgotten first). Per process: each replica counts its own.
 *
 * @module
 */

/** The throttle's limits. */
export interface ThrottleOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxClients: number;
}

/** Failed sign-ins per client address. */
export interface SignInThrottle {
  /** Seconds until `client` may try again, or 0 when it may now. */
  retryAfter(client: string, now: number): number;
  /** Records a failed sign-in from `client`. */
  failed(client: string, now: number): void;
  /** Forgets `client`'s failures (it signed in). */
  succeeded(client: string): void;
}

/** A throttle of `limit` failures per `windowMs` per address (by default 5 a minute). */
export function createThrottle(
  { limit = 5, windowMs = 60_000, maxClients = 10_000 }: Partial<ThrottleOptions> = {},
): SignInThrottle {
  /** Failure times per address, oldest first; the map in order of the latest failure. */
  const failures = new Map<string, number[]>();
  const recent = (client: string, now: number) =>
    (failures.get(client) ?? []).filter((t) => t > now - windowMs);
  return {
    retryAfter(client, now) {
      const times = recent(client, now);
      if (times.length < limit) return 0;
      return Math.max(1, Math.ceil((times[times.length - limit] + windowMs - now) / 1000));
    },
    failed(client, now) {
      const times = recent(client, now).slice(-(limit - 1));
      times.push(now);
      failures.delete(client);
      failures.set(client, times);
      for (const [oldest] of failures) {
        if (failures.size <= maxClients) break;
        failures.delete(oldest);
      }
    },
    succeeded(client) {
      failures.delete(client);
    },
  };
}

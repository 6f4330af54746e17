/**
 * Whether the store has been taking writes, as the receiver sees them: `/readyz` says not ready
 * while the last write failed (a full disk, a read-only file) and nothing has succeeded since, so
 * a load balancer stops sending webhooks the relay can only answer with 503.
 *
 * @module
 */

/** Recent write outcomes. */
export interface WriteHealth {
  failed(): void;
  succeeded(): void;
  /** The failure that makes the store not ready, if the last write failed within `windowMs`. */
  problem(): string | undefined;
}

/** Creates the tracker; a failure older than `windowMs` no longer counts (a retry may succeed). */
export function createWriteHealth(windowMs = 30_000, now: () => number = Date.now): WriteHealth {
  let failedAt: number | undefined;
  return {
    failed() {
      failedAt = now();
    },
    succeeded() {
      failedAt = undefined;
    },
    problem() {
      if (failedAt === undefined || now() - failedAt > windowMs) return undefined;
      return "the last store write failed";
    },
  };
}

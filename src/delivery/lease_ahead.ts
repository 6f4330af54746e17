/**
 * Leasing ahead: the worker leases a destination's due deliveries in batches (one store commit
 * for many) and hands them out as send slots free up, instead of one lease commit per send. A
 * held lease must be sent well before it expires (an expired lease counts as an interrupted send),
 * so a batch is only as large as the sends it can outlast, leases close to expiry are given back,
 * and a paused or stopped destination gives back everything it holds.
 *
 * @module
 */
import type { Lease, Outbox } from "../store/store.ts";

/** How many sends' worth of leases one destination holds at most, per send slot. */
const MAX_ROUNDS_AHEAD = 8;

/**
 * Leases held per send slot: as many rounds of sends as fit in a lease with one to spare, each
 * taking at most `sendTimeoutMs`; 0 (no leasing ahead) when a lease outlasts only one send.
 */
export function roundsAhead(leaseMs: number, sendTimeoutMs: number): number {
  return Math.max(0, Math.min(MAX_ROUNDS_AHEAD, Math.floor(leaseMs / sendTimeoutMs) - 2));
}

/** Leases held per destination. */
export interface LeaseAhead {
  /**
   * Up to `room` leases for `destination`, from those held or a new batch sized for its
   * `concurrency` (default: the relay's). `ahead: false` (a rate-limited destination, whose
   * leases would wait for tokens) leases only what is taken.
   */
  take(
    destination: string,
    room: number,
    now: number,
    limits?: { readonly concurrency?: number; readonly ahead?: boolean },
  ): Promise<Lease[]>;
  /** Gives back what `destination` holds (all destinations when undefined). */
  release(destination: string | undefined, now: number): Promise<void>;
}

/** Creates the holder; `rounds` from {@link roundsAhead}. */
export function createLeaseAhead(
  store: Pick<Outbox, "lease" | "release">,
  opts: {
    leaseMs: number;
    sendTimeoutMs: number;
    concurrency: number;
    rounds: number;
    /** Called when a background refill brought leases: free slots may take them now. */
    onRefill?: () => void;
  },
): LeaseAhead {
  const held = new Map<string, Lease[]>();
  const refilling = new Map<string, Promise<void>>();

  /** Leases the next batch while the held ones are still being sent. */
  function refill(destination: string, now: number, batch: number): Promise<void> {
    let p = refilling.get(destination);
    if (p) return p;
    const want = batch - (held.get(destination)?.length ?? 0);
    p = store.lease(destination, now, want, opts.leaseMs).then((leases) => {
      if (leases.length === 0) return;
      held.set(destination, [...held.get(destination) ?? [], ...leases]);
      opts.onRefill?.();
    }).finally(() => refilling.delete(destination));
    refilling.set(destination, p);
    return p;
  }

  return {
    async take(destination, room, now, limits = {}) {
      if (room <= 0) return [];
      const rounds = limits.ahead === false ? 0 : opts.rounds;
      const batch = (limits.concurrency ?? opts.concurrency) * (rounds + 1);
      let mine = held.get(destination) ?? [];
      // A lease that might expire mid-send goes back rather than out.
      const stale = mine.filter((l) => l.delivery.nextAttemptAt - now < 2 * opts.sendTimeoutMs);
      if (stale.length > 0) {
        mine = mine.filter((l) => !stale.includes(l));
        held.set(destination, mine);
        await store.release(stale, now);
      }
      if (mine.length < room) {
        if (rounds === 0) {
          mine.push(...await store.lease(destination, now, room - mine.length, opts.leaseMs));
        } else {
          await refill(destination, now, batch);
          mine = held.get(destination) ?? [];
        }
      }
      const out = mine.splice(0, room);
      held.set(destination, mine);
      // Half a batch left: lease the next one while these are sent.
      if (rounds > 0 && out.length > 0 && mine.length < batch / 2) {
        void refill(destination, now, batch).catch(() => {});
      }
      return out;
    },
    async release(destination, now) {
      const ids = destination === undefined
        ? [...new Set([...held.keys(), ...refilling.keys()])]
        : [destination];
      for (const id of ids) {
        await refilling.get(id)?.catch(() => {});
        const mine = held.get(id);
        held.delete(id);
        if (mine?.length) await store.release(mine, now);
      }
    },
  };
}

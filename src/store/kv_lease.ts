/**
 * Deno KV leases and outcomes, in batches: the due deliveries of a destination are leased in one
 * commit (checked against each queue entry and record), outcomes recorded while a commit is under
 * way share the next one ({@link ./group_commit.ts}), and leases a worker held ahead but never sent
 * are given back in one. When a shared commit conflicts (another worker took one of its
 * deliveries), each item is retried alone, so only the lost ones fail. Every write updates the
 * counters and indexes in the same commit ({@link ./kv_index.ts}).
 *
 * @module
 */
import type { BodyCache } from "./body_cache.ts";
import { groupCommit } from "./group_commit.ts";
import type { StoredMeta } from "./kv_accept.ts";
import { indexDelivery } from "./kv_index.ts";
import {
  applyOutcome,
  type DeliveryRecord,
  type DeliveryState,
  FINAL_STATES,
  GIVEN_UP_STATES,
  type Lease,
  type Outbox,
  type Outcome,
  released,
} from "./store.ts";

/** Leases in one commit at most (two checks each, under KV's 100). */
const LEASE_BATCH = 32;
/** Outcomes in one commit at most (each a check and up to seven mutations). */
const COMPLETE_BATCH = 64;

/** The lease side of a KV store on `kv`; leased bodies are read ahead into `bodies`. */
export function createKvLeasing(
  kv: Deno.Kv,
  bodies: BodyCache,
): Pick<Outbox, "lease" | "complete" | "release"> & { drain(): Promise<void> } {
  async function lease(
    destination: string,
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<Lease[]> {
    if (limit <= 0) return [];
    const entries: Deno.KvEntry<number | null>[] = [];
    const due = kv.list<number | null>(
      { start: ["q", destination], end: ["q", destination, now + 1] },
      { limit: Math.min(limit * 2, LEASE_BATCH * 2) },
    );
    for await (const entry of due) entries.push(entry);
    const leases: Lease[] = [];
    for (let i = 0; i < entries.length && leases.length < limit; i += LEASE_BATCH) {
      const chunk = entries.slice(i, i + Math.min(LEASE_BATCH, limit - leases.length));
      leases.push(...await leaseChunk(destination, chunk, now, leaseMs));
    }
    return leases;
  }

  /**
   * Reads the bodies of just-leased messages in bulk into the body cache, so that their sends read
   * nothing more (one-chunk bodies, most of them; others are read by `getBody`).
   */
  async function prefetchBodies(msgIds: string[]) {
    const missing = msgIds.filter((id) => !bodies.get(id));
    for (let i = 0; i < missing.length; i += 5) {
      const ids = missing.slice(i, i + 5);
      const got = await kv.getMany<unknown[]>(ids.flatMap((id) => [["m", id], ["b", id, 0]]));
      ids.forEach((id, j) => {
        const meta = got[2 * j].value as StoredMeta | null;
        const chunk = got[2 * j + 1].value as Uint8Array | null;
        if (meta?.chunks === 1 && meta.encoding === "raw" && chunk) bodies.set(id, chunk);
      });
    }
  }

  /** Leases what `entries` point at, in one commit when nothing conflicts. */
  async function leaseChunk(
    destination: string,
    entries: Deno.KvEntry<number | null>[],
    now: number,
    leaseMs: number,
  ): Promise<Lease[]> {
    const records: Deno.KvEntryMaybe<DeliveryRecord>[] = [];
    for (let i = 0; i < entries.length; i += 10) {
      records.push(
        ...await kv.getMany<DeliveryRecord[]>(
          entries.slice(i, i + 10).map((e) => ["d", e.key[3] as string, destination]),
        ),
      );
    }
    const until = now + leaseMs;
    const op = kv.atomic();
    const taken: { next: DeliveryRecord; previous: DeliveryState }[] = [];
    const seen = new Set<string>();
    entries.forEach((entry, i) => {
      const current = records[i];
      const d = current.value;
      if (d && seen.has(d.msgId)) return;
      op.check(entry).delete(entry.key);
      // A queue entry left behind by a purge or a replay is only dropped.
      if (!d || FINAL_STATES.has(d.state)) return;
      seen.add(d.msgId);
      const next: DeliveryRecord = { ...d, state: "leased", nextAttemptAt: until, updatedAt: now };
      op.check(current).set(["q", destination, until, d.msgId], d.receivedAt).set(
        current.key,
        next,
      );
      indexDelivery(op, d, next);
      taken.push({ next, previous: d.state });
    });
    const res = await op.commit();
    if (res.ok) {
      await prefetchBodies(taken.map((t) => t.next.msgId));
      return taken.map((t) => ({
        delivery: t.next,
        expired: t.previous === "leased",
        token: res.versionstamp,
        previous: t.previous,
      }));
    }
    if (entries.length === 1) return [];
    const out: Lease[] = [];
    for (const entry of entries) {
      const fresh = await kv.get<number | null>(entry.key);
      if (fresh.versionstamp === entry.versionstamp) {
        out.push(...await leaseChunk(destination, [entry], now, leaseMs));
      }
    }
    return out;
  }

  function addComplete(op: Deno.AtomicOperation, l: Lease, outcome: Outcome) {
    const d = l.delivery;
    const dKey = ["d", d.msgId, d.destination];
    const next = applyOutcome(d, outcome);
    op.check({ key: dKey, versionstamp: l.token })
      .delete(["q", d.destination, d.nextAttemptAt, d.msgId])
      .set(dKey, next);
    indexDelivery(op, d, next);
    if (next.state === "temporary_failure") {
      op.set(["q", d.destination, next.nextAttemptAt, d.msgId], d.receivedAt);
    }
    if (GIVEN_UP_STATES.has(next.state)) op.set(["f", d.destination, d.msgId], null);
  }

  function addRelease(op: Deno.AtomicOperation, l: Lease, now: number) {
    const d = l.delivery;
    const dKey = ["d", d.msgId, d.destination];
    const next = released(l, now);
    op.check({ key: dKey, versionstamp: l.token })
      .delete(["q", d.destination, d.nextAttemptAt, d.msgId])
      .set(["q", d.destination, now, d.msgId], d.receivedAt)
      .set(dKey, next);
    indexDelivery(op, d, next);
  }

  /** Commits `items` together, or each alone when the shared commit conflicts; true per success. */
  async function commitEach<T>(
    items: readonly T[],
    add: (op: Deno.AtomicOperation, item: T) => void,
  ): Promise<boolean[]> {
    const op = kv.atomic();
    for (const item of items) add(op, item);
    if ((await op.commit()).ok) return items.map(() => true);
    if (items.length === 1) return [false];
    const out: boolean[] = [];
    for (const item of items) {
      const alone = kv.atomic();
      add(alone, item);
      out.push((await alone.commit()).ok);
    }
    return out;
  }

  const completions = groupCommit<{ lease: Lease; outcome: Outcome }, boolean>(
    (items) => commitEach(items, (op, i) => addComplete(op, i.lease, i.outcome)),
    {
      maxBatch: COMPLETE_BATCH,
      maxInFlight: 1,
      // One delivery never twice in a commit (a second lease on it would overwrite the first).
      key: (i) => `${i.lease.delivery.msgId}\0${i.lease.delivery.destination}`,
      splittable: () => false,
    },
  );

  async function release(leases: readonly Lease[], now: number): Promise<number> {
    let given = 0;
    for (let i = 0; i < leases.length; i += COMPLETE_BATCH) {
      const done = await commitEach(
        leases.slice(i, i + COMPLETE_BATCH),
        (op, l) => addRelease(op, l, now),
      );
      given += done.filter(Boolean).length;
    }
    return given;
  }

  return {
    lease,
    complete: (lease, outcome) => completions.submit({ lease, outcome }),
    release,
    drain: () => completions.drain(),
  };
}

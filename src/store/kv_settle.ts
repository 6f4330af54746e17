/**
 * Leases left by a dead process, settled at start. A relay killed mid-send leaves deliveries
 * `leased` until `RELAY_LEASE_MS` runs out. When this process holds the store file's exclusive lock
 * ({@link ./kv_lock.ts}), no other process can own a lease in it, so every open lease is orphaned:
 * each is made due now, still `leased`, and the worker settles it as an expired lease (resent where
 * the destination dedupes, `unknown` where it does not) instead of waiting.
 *
 * Knows the KV layout of {@link ./kv.ts}: queue entries `["q", destination, dueAt, msgId]`,
 * deliveries `["d", msgId, destination]`.
 *
 * @module
 */
import { indexDelivery, indexedQueueStats } from "./kv_index.ts";
import type { DeliveryRecord } from "./store.ts";

/** Makes every lease in `kv` due at `now`; returns how many. Only safe with the file lock held. */
export async function settleOrphanedLeases(kv: Deno.Kv, now: number): Promise<number> {
  let settled = 0;
  // A lease is due in the future: per destination with open work (the counters, kv_index.ts), only
  // the queue after `now` is read, so start-up does not grow with the backlog.
  for (const destination of (await indexedQueueStats(kv)).keys()) {
    settled += await settleDestination(kv, destination, now);
  }
  return settled;
}

async function settleDestination(kv: Deno.Kv, destination: string, now: number) {
  let settled = 0;
  const ahead = kv.list<number | null>({
    prefix: ["q", destination],
    start: ["q", destination, now + 1],
  });
  for await (const entry of ahead) {
    const [, , dueAt, msgId] = entry.key as [string, string, number, string];
    if (typeof dueAt !== "number" || dueAt <= now) continue;
    const dKey = ["d", msgId, destination];
    const current = await kv.get<DeliveryRecord>(dKey);
    if (current.value?.state !== "leased") continue;
    const next = { ...current.value, nextAttemptAt: now, updatedAt: now };
    const op = kv.atomic().check(current).check(entry)
      .delete(entry.key)
      .set(["q", destination, now, msgId], entry.value)
      .set(dKey, next);
    indexDelivery(op, current.value, next);
    const res = await op.commit();
    if (res.ok) settled++;
  }
  return settled;
}

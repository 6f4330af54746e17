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
import type { DeliveryRecord } from "./store.ts";

/** Makes every lease in `kv` due at `now`; returns how many. Only safe with the file lock held. */
export async function settleOrphanedLeases(kv: Deno.Kv, now: number): Promise<number> {
  let settled = 0;
  for await (const entry of kv.list<number | null>({ prefix: ["q"] })) {
    const [, destination, dueAt, msgId] = entry.key as [string, string, number, string];
    if (typeof dueAt !== "number" || dueAt <= now) continue;
    const dKey = ["d", msgId, destination];
    const current = await kv.get<DeliveryRecord>(dKey);
    if (current.value?.state !== "leased") continue;
    const res = await kv.atomic().check(current).check(entry)
      .delete(entry.key)
      .set(["q", destination, now, msgId], entry.value)
      .set(dKey, { ...current.value, nextAttemptAt: now, updatedAt: now })
      .commit();
    if (res.ok) settled++;
  }
  return settled;
}

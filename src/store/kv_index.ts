/**
 * Deno KV secondary data kept in the same commit as every delivery write, so that metrics and
 * filtered listings read a few keys instead of scanning the backlog:
 * - `["c", destination]` → `Deno.KvU64`: open deliveries (a wrapping sum: −1 is 2⁶⁴−1);
 * - `["o", destination, receivedAt, msgId]` → null: open deliveries by receipt, so the oldest is
 *   the first key;
 * - `["i", state, receivedAt, msgId, destination]` → null: deliveries by state, newest last, for
 *   `listMessages` filtered by state.
 *
 * Stores written before these existed are indexed once on open ({@link ensureIndexed}).
 *
 * @module
 */
import { type DeliveryRecord, type DeliveryState, FINAL_STATES, type QueueStats } from "./store.ts";

const ONE = new Deno.KvU64(1n);
const MINUS_ONE = new Deno.KvU64(0xffff_ffff_ffff_ffffn);
/** Marks a store whose deliveries are all indexed. */
const INDEXED_KEY = ["ci"];

const isOpen = (d: DeliveryRecord | undefined) => d !== undefined && !FINAL_STATES.has(d.state);

/**
 * Adds to `op` what moving one delivery from `prev` (undefined: new) to `next` (undefined:
 * deleted) changes in the counters and indexes.
 */
export function indexDelivery(
  op: Deno.AtomicOperation,
  prev: DeliveryRecord | undefined,
  next: DeliveryRecord | undefined,
): void {
  const d = (next ?? prev)!;
  if (prev?.state !== next?.state) {
    if (prev) op.delete(stateKey(prev.state, d));
    if (next) op.set(stateKey(next.state, d), null);
  }
  if (isOpen(prev) === isOpen(next)) return;
  const oldest = ["o", d.destination, d.receivedAt, d.msgId];
  if (isOpen(next)) op.sum(["c", d.destination], ONE.value).set(oldest, null);
  else op.sum(["c", d.destination], MINUS_ONE.value).delete(oldest);
}

function stateKey(state: DeliveryState, d: DeliveryRecord): Deno.KvKey {
  return ["i", state, d.receivedAt, d.msgId, d.destination];
}

/** Mutations {@link indexDelivery} adds for a new delivery at most. */
export const INDEX_MUTATIONS = 3;

/** Queue depth and oldest open delivery per destination: one counter and one key each. */
export async function indexedQueueStats(kv: Deno.Kv): Promise<Map<string, QueueStats>> {
  const stats = new Map<string, QueueStats>();
  for await (const e of kv.list<Deno.KvU64>({ prefix: ["c"] })) {
    const destination = e.key[1] as string;
    const n = e.value.value;
    const depth = Number(n > 0x7fff_ffff_ffff_ffffn ? n - 0x1_0000_0000_0000_0000n : n);
    if (depth <= 0) continue;
    let oldestReceivedAt: number | undefined;
    for await (const o of kv.list({ prefix: ["o", destination] }, { limit: 1 })) {
      oldestReceivedAt = o.key[2] as number;
    }
    stats.set(destination, { depth, oldestReceivedAt });
  }
  return stats;
}

/**
 * Message ids with a delivery in `state` (to `destination` when given), received in
 * [`since`, `before`), newest first, each once; `before` is an exclusive key position.
 */
export async function* idsByState(
  kv: Deno.Kv,
  state: DeliveryState,
  since: number,
  before: readonly [number, string] | readonly [number],
  destination?: string,
): AsyncGenerator<{ receivedAt: number; msgId: string }> {
  let last: string | undefined;
  for await (
    const e of kv.list<null>(
      { start: ["i", state, since], end: ["i", state, ...before] },
      { reverse: true },
    )
  ) {
    const [, , receivedAt, msgId, dest] = e.key as [string, string, number, string, string];
    if (destination !== undefined && dest !== destination) continue;
    if (msgId === last) continue;
    last = msgId;
    yield { receivedAt, msgId };
  }
}

/**
 * Indexes every delivery of a store written before the indexes existed, once. Runs before the
 * store serves, so it cannot race this process's writes; replicas started together each rebuild
 * the same values (sets, and counters written whole).
 */
export async function ensureIndexed(kv: Deno.Kv): Promise<void> {
  if ((await kv.get(INDEXED_KEY)).versionstamp !== null) return;
  const depth = new Map<string, number>();
  let op = kv.atomic();
  let n = 0;
  for await (const e of kv.list<DeliveryRecord>({ prefix: ["d"] })) {
    const d = e.value;
    op.set(stateKey(d.state, d), null);
    if (isOpen(d)) {
      op.set(["o", d.destination, d.receivedAt, d.msgId], null);
      depth.set(d.destination, (depth.get(d.destination) ?? 0) + 1);
    }
    if (++n % 400 === 0) {
      await op.commit();
      op = kv.atomic();
    }
  }
  for (const [destination, count] of depth) {
    op.set(["c", destination], new Deno.KvU64(BigInt(count)));
  }
  // The first rebuild to finish writes the counters; a later one would overwrite what was
  // counted since (another isolate already serving), so it leaves them.
  op.check({ key: INDEXED_KEY, versionstamp: null }).set(INDEXED_KEY, true);
  await op.commit();
}

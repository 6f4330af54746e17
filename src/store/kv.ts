/**
 * Deno KV backend: the embedded default (a local SQLite file, or `:memory:` in tests) and what Deno
 * Deploy offers. Designed around KV's limits (docs/architecture.md): values < 64 KiB, so bodies are split
 * into chunks; ≤ 1,000 mutations and ≤ 800 KiB per commit, so a message and all its deliveries fit
 * one atomic commit and larger bodies are compressed or refused with 413.
 *
 * Accepts are group-committed ({@link ./kv_accept.ts}); leases and outcomes go in batches
 * ({@link ./kv_lease.ts}); queue-depth counters and the state index are kept in the same commits
 * ({@link ./kv_index.ts}).
 *
 * Key layout (short prefixes: keys count against the commit size):
 * - `["m", msgId]` → {@link StoredMeta}
 * - `["b", msgId, i]` → body chunk `i`
 * - `["d", msgId, destination]` → {@link DeliveryRecord}
 * - `["q", destination, dueAt, msgId]` → receivedAt: the due queue, ordered by time per destination
 *   (the receipt time makes queue age a key scan, no record reads)
 * - `["r", receivedAt, msgId]` → null: by receipt time, for listing and retention
 * - `["x", destination, eventKey]` → `DedupeEntry`: fan-out dedupe, expiring
 * - `["f", destination, msgId]` → null: deliveries given up (`permanent_failure`, `unknown`)
 * - `["s", id]` → {@link SubscriptionRecord}; `["p"]` → {@link PauseState}
 * - `["c", …]`, `["o", …]`, `["i", …]`, `["ci"]`: counters and indexes ({@link ./kv_index.ts})
 *
 * @module
 */
import { settleOrphanedLeases } from "./kv_settle.ts";
import { concatBytes } from "../bytes.ts";
import { createBodyCache } from "./body_cache.ts";
import { compress, createKvAccept, type StoredMeta } from "./kv_accept.ts";
import { ensureIndexed, idsByState, indexDelivery, indexedQueueStats } from "./kv_index.ts";
import { createKvLeasing } from "./kv_lease.ts";
import {
  closedByDeletion,
  decodeCursor,
  type DeliveryRecord,
  type DestinationHold,
  encodeCursor,
  FINAL_STATES,
  isRetryable,
  markDisabled,
  matchesMessageFilter,
  type MessageFilter,
  type MessagePage,
  type MessageWithDeliveries,
  NOT_PAUSED,
  type PauseState,
  type QueueStats,
  requeued,
  type Store,
  StoreUnavailableError,
  type SubscriptionRecord,
  switchPause,
} from "./store.ts";
import { kvStats } from "./kv_stats.ts";

/** Messages one `listMessages` page reads at most before handing back a cursor. */
const SCAN_LIMIT = 1000;

/**
 * Opens (creating its directory) a KV store at `path`, in memory for `:memory:`, or the platform's
 * default KV (Deno Deploy's) without a path.
 */
export async function openKvStore(
  path?: string,
  options: { settleLeases?: boolean } = {},
): Promise<Store> {
  if (typeof Deno.openKv !== "function") {
    throw new Error(
      "Deno KV is not available: run with --unstable-kv (deno.json sets it for `deno task`)",
    );
  }
  if (path !== undefined && path !== ":memory:") {
    const dir = path.replace(/[/\\][^/\\]*$/, "");
    if (dir && dir !== path) await Deno.mkdir(dir, { recursive: true });
  }
  const kv = await Deno.openKv(path);
  await ensureIndexed(kv);
  // Only with the file lock held: then no live process owns a lease in this file.
  if (options.settleLeases) await settleOrphanedLeases(kv, Date.now());
  return createKvStore(kv);
}

/** Wraps an open KV handle; the store owns it and closes it on `close()`. */
export function createKvStore(kv: Deno.Kv): Store {
  /** Bodies of messages just accepted or leased, so that their sends need not read them. */
  const bodies = createBodyCache();
  const accept = createKvAccept(kv, bodies);
  const leasing = createKvLeasing(kv, bodies);

  async function getBody(msgId: string): Promise<Uint8Array | null> {
    const cached = bodies.get(msgId);
    if (cached) return cached;
    const meta = (await kv.get<StoredMeta>(["m", msgId])).value;
    if (!meta) return null;
    const keys = Array.from({ length: meta.chunks }, (_, i) => ["b", msgId, i]);
    const parts: Uint8Array[] = [];
    // getMany takes at most 10 keys at a time.
    for (let i = 0; i < keys.length; i += 10) {
      for (const e of await kv.getMany<Uint8Array[]>(keys.slice(i, i + 10))) {
        if (!e.value) return null;
        parts.push(e.value);
      }
    }
    const bytes = concatBytes(parts);
    return meta.encoding === "gzip" ? await compress(bytes, "decompress") : bytes;
  }

  async function getMessage(msgId: string): Promise<MessageWithDeliveries | null> {
    const meta = (await kv.get<StoredMeta>(["m", msgId])).value;
    if (!meta) return null;
    const deliveries: DeliveryRecord[] = [];
    for await (const e of kv.list<DeliveryRecord>({ prefix: ["d", msgId] })) {
      deliveries.push(e.value);
    }
    const { chunks: _c, encoding: _e, ...message } = meta;
    return { message, deliveries };
  }

  /** The message's deliveries when all are final and settled before `before`; else null. */
  async function finishedDeliveries(
    msgId: string,
    before: number,
  ): Promise<Deno.KvEntry<DeliveryRecord>[] | null> {
    const out: Deno.KvEntry<DeliveryRecord>[] = [];
    for await (const e of kv.list<DeliveryRecord>({ prefix: ["d", msgId] })) {
      if (!FINAL_STATES.has(e.value.state) || e.value.updatedAt >= before) return null;
      out.push(e);
    }
    return out;
  }

  async function purge(before: number): Promise<number> {
    let purged = 0;
    // Deliveries finish after receipt: only messages received before `before` can qualify.
    for await (const r of kv.list<null>({ start: ["r"], end: ["r", before] })) {
      const msgId = r.key[2] as string;
      const deliveries = await finishedDeliveries(msgId, before);
      if (!deliveries) continue;
      const meta = await kv.get<StoredMeta>(["m", msgId]);
      const op = kv.atomic().check(meta).delete(r.key).delete(["m", msgId]);
      for (let i = 0; i < (meta.value?.chunks ?? 0); i++) op.delete(["b", msgId, i]);
      // Checked: a replay between the read and this commit keeps the message.
      for (const e of deliveries) {
        op.check(e).delete(e.key).delete(["f", e.value.destination, msgId]);
        indexDelivery(op, e.value, undefined);
      }
      if ((await op.commit()).ok) {
        bodies.delete(msgId);
        purged++;
      }
    }
    return purged;
  }

  async function countOpen(before: number): Promise<number> {
    let open = 0;
    // The open index is ordered by receipt per destination: only the old work is read.
    for (const destination of (await indexedQueueStats(kv)).keys()) {
      for await (
        const _ of kv.list({ start: ["o", destination], end: ["o", destination, before] })
      ) {
        open++;
      }
    }
    return open;
  }

  async function listMessages(
    filter: MessageFilter,
    page: { cursor?: string; limit: number },
  ): Promise<MessagePage> {
    const until = filter.until ?? Number.MAX_SAFE_INTEGER;
    const after = page.cursor ? decodeCursor(page.cursor) : undefined;
    const end = after && after.receivedAt < until
      ? ["r", after.receivedAt, after.msgId]
      : ["r", until];
    const items: MessageWithDeliveries[] = [];
    let scanned = 0;
    // By state, the state index holds only matching deliveries; otherwise by receipt time.
    const candidates = filter.state
      ? idsByState(
        kv,
        filter.state,
        filter.since ?? 0,
        end.slice(1) as [number],
        filter.destination,
      )
      : byTime(filter.since ?? 0, end);
    for await (const { receivedAt, msgId } of candidates) {
      const found = await getMessage(msgId);
      if (found && matchesMessageFilter(found, filter)) items.push(found);
      if (items.length >= page.limit || ++scanned >= SCAN_LIMIT) {
        return { items, cursor: encodeCursor({ receivedAt, msgId }) };
      }
    }
    return { items };
  }

  async function* byTime(since: number, end: Deno.KvKey) {
    for await (const r of kv.list<null>({ start: ["r", since], end }, { reverse: true })) {
      const [, receivedAt, msgId] = r.key as [string, number, string];
      yield { receivedAt, msgId };
    }
  }

  async function retry(
    msgId: string,
    destination: string | undefined,
    now: number,
  ): Promise<DeliveryRecord[]> {
    for (let round = 0; round < 8; round++) {
      const op = kv.atomic();
      const out: DeliveryRecord[] = [];
      for await (const e of kv.list<DeliveryRecord>({ prefix: ["d", msgId] })) {
        const d = e.value;
        if (destination !== undefined && d.destination !== destination) continue;
        if (!isRetryable(d)) continue;
        const next = requeued(d, now);
        op.check(e).set(e.key, next).delete(["f", d.destination, msgId])
          .delete(["q", d.destination, d.nextAttemptAt, msgId])
          .set(["q", d.destination, now, msgId], d.receivedAt);
        indexDelivery(op, d, next);
        out.push(next);
      }
      if (out.length === 0 || (await op.commit()).ok) return out;
    }
    throw new StoreUnavailableError("Deno KV retry kept conflicting; try again");
  }

  async function retryFailed(
    destination: string,
    now: number,
    skip?: (d: DeliveryRecord) => Promise<boolean>,
  ): Promise<string[]> {
    const msgIds: string[] = [];
    for await (const e of kv.list<null>({ prefix: ["f", destination] })) {
      msgIds.push(e.key[2] as string);
    }
    const out: string[] = [];
    for (const msgId of msgIds) {
      if (skip) {
        const d = (await kv.get<DeliveryRecord>(["d", msgId, destination])).value;
        if (d && await skip(d)) continue;
      }
      if ((await retry(msgId, destination, now)).length > 0) out.push(msgId);
    }
    return out;
  }

  function queueStats(): Promise<Map<string, QueueStats>> {
    return indexedQueueStats(kv);
  }

  async function getPause(): Promise<PauseState> {
    return (await kv.get<PauseState>(["p"])).value ?? NOT_PAUSED;
  }

  async function updateSettings(change: (state: PauseState) => PauseState): Promise<PauseState> {
    for (let round = 0; round < 8; round++) {
      const current = await kv.get<PauseState>(["p"]);
      const next = change(current.value ?? NOT_PAUSED);
      if ((await kv.atomic().check(current).set(["p"], next).commit()).ok) return next;
    }
    throw new StoreUnavailableError("Deno KV pause update kept conflicting; try again");
  }

  function setPause(destination: string | undefined, paused: boolean, now: number) {
    return updateSettings((s) => switchPause(s, destination, paused, now));
  }

  function setDisabled(destination: string, hold: DestinationHold | null, now: number) {
    return updateSettings((s) => markDisabled(s, destination, hold, now));
  }

  async function listSubscriptions(): Promise<SubscriptionRecord[]> {
    const out: SubscriptionRecord[] = [];
    for await (const e of kv.list<SubscriptionRecord>({ prefix: ["s"] })) out.push(e.value);
    return out.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async function closeDeliveries(destination: string, now: number): Promise<number> {
    let closed = 0;
    // The due queue holds every open delivery of the destination, leased ones included.
    for await (const entry of kv.list<number | null>({ prefix: ["q", destination] })) {
      const msgId = entry.key[3] as string;
      const dKey = ["d", msgId, destination];
      const d = await kv.get<DeliveryRecord>(dKey);
      const op = kv.atomic().check(entry).delete(entry.key);
      const open = d.value && !FINAL_STATES.has(d.value.state);
      if (open) {
        const closed = closedByDeletion(d.value!, now);
        op.check(d).set(dKey, closed).set(["f", destination, msgId], null);
        indexDelivery(op, d.value!, closed);
      }
      // A conflict is a worker recording an outcome for the same delivery: that outcome stands.
      if ((await op.commit()).ok && open) closed++;
    }
    return closed;
  }

  return {
    accept,
    lease: leasing.lease,
    complete: leasing.complete,
    release: leasing.release,
    getBody,
    getMessage,
    purge,
    countOpen,
    listMessages,
    retry,
    retryFailed,
    queueStats,
    getPause,
    setPause,
    setDisabled,
    listSubscriptions,
    async getSubscription(id) {
      return (await kv.get<SubscriptionRecord>(["s", id])).value;
    },
    async putSubscription(sub) {
      await kv.set(["s", sub.id], sub);
    },
    async deleteSubscription(id) {
      const current = await kv.get(["s", id]);
      if (!current.value) return false;
      return (await kv.atomic().check(current).delete(["s", id]).commit()).ok;
    },
    closeDeliveries,
    async ping() {
      await kv.get(["m", ""]);
    },
    async close() {
      await leasing.drain();
      try {
        kv.close();
      } catch { /* already closed */ }
    },
    ...kvStats(kv),
  };
}

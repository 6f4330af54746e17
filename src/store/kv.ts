/**
 * Deno KV backend: the embedded default (a local SQLite file, or `:memory:` in tests) and what Deno
 * Deploy offers. Designed around KV's limits (DESIGN.md §5): values < 64 KiB, so bodies are split
 * into chunks; ≤ 1,000 mutations and ≤ 800 KiB per commit, so a message and all its deliveries fit
 * one atomic commit and larger bodies are compressed or refused with 413.
 *
 * Accepts are group-committed: concurrent messages share one atomic commit (within those limits),
 * which is what lets the relay outrun one KV write per request. Each is still acknowledged only
 * once the commit holding it has resolved, and a conflict in a shared commit (a duplicate `msg_id`,
 * a live event key) retries each of its messages alone, so one never fails the others.
 *
 * Key layout (short prefixes: keys count against the commit size):
 * - `["m", msgId]` → {@link StoredMeta}
 * - `["b", msgId, i]` → body chunk `i`
 * - `["d", msgId, destination]` → {@link DeliveryRecord}
 * - `["q", destination, dueAt, msgId]` → receivedAt: the due queue, ordered by time per destination
 *   (the receipt time makes queue age a key scan, no record reads)
 * - `["r", receivedAt, msgId]` → null: by receipt time, for listing and retention
 * - `["x", destination, eventKey]` → {@link DedupeEntry}: fan-out dedupe, expiring
 * - `["f", destination, msgId]` → null: deliveries given up (`permanent_failure`, `unknown`)
 * - `["s", id]` → {@link SubscriptionRecord}; `["p"]` → {@link PauseState}
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import {
  type AcceptInput,
  type AcceptResult,
  applyOutcome,
  closedByDeletion,
  decodeCursor,
  DELETED_DESTINATION_REASON,
  type DeliveryRecord,
  encodeCursor,
  FINAL_STATES,
  GIVEN_UP_STATES,
  type Lease,
  matchesMessageFilter,
  type MessageFilter,
  type MessagePage,
  type MessageRecord,
  type MessageWithDeliveries,
  newDelivery,
  NOT_PAUSED,
  type Outcome,
  type PauseState,
  type QueueStats,
  requeued,
  RETRYABLE_STATES,
  type Store,
  StoreUnavailableError,
  type SubscriptionRecord,
  switchPause,
} from "./store.ts";
import { kvStats } from "./kv_stats.ts";

/** Largest KV value is 65,536 bytes; stay clear of it. */
const CHUNK_BYTES = 60_000;
/** Body bytes one commit may carry, leaving room under 800 KiB for keys, metadata and deliveries. */
export const KV_MAX_STORED_BODY = 760 * 1024;

/** Messages one `listMessages` page reads at most before handing back a cursor. */
const SCAN_LIMIT = 1000;

interface StoredMeta extends MessageRecord {
  readonly chunks: number;
  readonly encoding: "raw" | "gzip";
}

interface DedupeEntry {
  readonly msgId: string;
  readonly expiresAt: number;
}

/** The body is larger than one KV commit can hold, even compressed: the receiver answers 413. */
export class BodyTooLargeForStoreError extends Error {
  override name = "BodyTooLargeForStoreError";
}

/** What one message adds to a commit, measured against {@link BATCH_LIMITS}. */
interface Cost {
  readonly checks: number;
  readonly mutations: number;
  readonly keyBytes: number;
  readonly bytes: number;
}

/**
 * How much one group commit may hold: KV allows 100 checks, 1,000 mutations, 80 KiB of keys and
 * 800 KiB in all per atomic operation; key and value sizes here are estimates, hence the margins.
 */
const BATCH_LIMITS: Cost = { checks: 100, mutations: 1000, keyBytes: 64 * 1024, bytes: 640 * 1024 };

function costOf(
  { input, meta, bytes }: { input: AcceptInput; meta: StoredMeta; bytes: Uint8Array },
): Cost {
  const dedupe = input.destinations.filter((d) => d.eventKey && input.dedupeWindowMs > 0);
  const idBytes = 3 * input.msgId.length + 16;
  const keys = 3 + meta.chunks + 2 * input.destinations.length + dedupe.length;
  return {
    checks: 1 + dedupe.length,
    mutations: keys,
    keyBytes: keys * idBytes + dedupe.reduce((n, d) => n + 3 * d.id.length + d.eventKey!.length, 0),
    bytes: bytes.byteLength + 512 + 1024 * input.destinations.length + 3 * input.name.length,
  };
}

/**
 * Takes from the head of `queue` the messages that fit one commit together. A message that shares a
 * `msg_id` or an event key with one already taken waits for the next commit: in one commit, both
 * checks would pass and the second write would silently replace the first.
 */
function takeBatch<T extends { prepared: { input: AcceptInput }; cost: Cost }>(queue: T[]): T[] {
  const batch: T[] = [];
  const taken = new Set<string>();
  const sum = { checks: 0, mutations: 0, keyBytes: 0, bytes: 0 };
  for (let i = 0; i < queue.length;) {
    const q = queue[i];
    const { input } = q.prepared;
    const keys = [
      `m\0${input.msgId}`,
      ...input.destinations.flatMap((d) => d.eventKey ? [`x\0${d.id}\0${d.eventKey}`] : []),
    ];
    const fits = (Object.keys(sum) as (keyof Cost)[]).every((k) =>
      sum[k] + q.cost[k] <= BATCH_LIMITS[k]
    );
    if (batch.length > 0 && !fits) break;
    if (keys.some((k) => taken.has(k))) {
      i++;
      continue;
    }
    for (const k of keys) taken.add(k);
    for (const k of Object.keys(sum) as (keyof Cost)[]) sum[k] += q.cost[k];
    batch.push(q);
    queue.splice(i, 1);
  }
  return batch;
}

/**
 * Opens (creating its directory) a KV store at `path`, in memory for `:memory:`, or the platform's
 * default KV (Deno Deploy's) without a path.
 */
export async function openKvStore(path?: string): Promise<Store> {
  if (typeof Deno.openKv !== "function") {
    throw new Error(
      "Deno KV is not available: run with --unstable-kv (deno.json sets it for `deno task`)",
    );
  }
  if (path !== undefined && path !== ":memory:") {
    const dir = path.replace(/[/\\][^/\\]*$/, "");
    if (dir && dir !== path) await Deno.mkdir(dir, { recursive: true });
  }
  return createKvStore(await Deno.openKv(path));
}

/** Wraps an open KV handle; the store owns it and closes it on `close()`. */
export function createKvStore(kv: Deno.Kv): Store {
  async function encodeBody(
    body: Uint8Array,
  ): Promise<{ bytes: Uint8Array; encoding: "raw" | "gzip" }> {
    if (body.byteLength <= KV_MAX_STORED_BODY) return { bytes: body, encoding: "raw" };
    const gz = await compress(body, "compress");
    if (gz.byteLength > KV_MAX_STORED_BODY) {
      throw new BodyTooLargeForStoreError(
        `body of ${body.byteLength} bytes does not fit one Deno KV commit even compressed ` +
          `(${gz.byteLength} > ${KV_MAX_STORED_BODY} bytes)`,
      );
    }
    return { bytes: gz, encoding: "gzip" };
  }

  /** A message ready to commit: its body encoded, and what else it needs. */
  interface Prepared {
    readonly input: AcceptInput;
    readonly meta: StoredMeta;
    readonly bytes: Uint8Array;
  }

  async function prepare(input: AcceptInput): Promise<Prepared> {
    const { bytes, encoding } = await encodeBody(input.body);
    const meta: StoredMeta = {
      msgId: input.msgId,
      receivedAt: input.receivedAt,
      name: input.name,
      size: input.body.byteLength,
      chunks: Math.max(1, Math.ceil(bytes.byteLength / CHUNK_BYTES)),
      encoding,
    };
    return { input, meta, bytes };
  }

  /**
   * Adds one message's checks and mutations to `op`. `live`: destinations whose event key another
   * message holds (recorded as deduplicated); `expired`: versionstamps of lapsed entries to replace.
   */
  function addAccept(
    op: Deno.AtomicOperation,
    { input, meta, bytes }: Prepared,
    live: ReadonlyMap<string, string> = new Map(),
    expired: ReadonlyMap<string, string> = new Map(),
  ): DeliveryRecord[] {
    const msgKey = ["m", input.msgId];
    op.check({ key: msgKey, versionstamp: null }).set(msgKey, meta);
    for (let i = 0; i < meta.chunks; i++) {
      op.set(["b", input.msgId, i], bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
    }
    const deliveries: DeliveryRecord[] = [];
    for (const dest of input.destinations) {
      const dupOf = dest.eventKey ? live.get(dest.id) : undefined;
      const d = newDelivery(input, dest.id, dupOf);
      deliveries.push(d);
      op.set(["d", input.msgId, dest.id], d);
      if (dupOf) continue;
      op.set(["q", dest.id, d.nextAttemptAt, input.msgId], input.receivedAt);
      if (dest.eventKey && input.dedupeWindowMs > 0) {
        const key = ["x", dest.id, dest.eventKey];
        const entry: DedupeEntry = {
          msgId: input.msgId,
          expiresAt: input.receivedAt + input.dedupeWindowMs,
        };
        op.check({ key, versionstamp: expired.get(dest.id) ?? null })
          .set(key, entry, { expireIn: input.dedupeWindowMs });
      }
    }
    op.set(["r", input.receivedAt, input.msgId], null);
    return deliveries;
  }

  async function commit(op: Deno.AtomicOperation) {
    try {
      return await op.commit();
    } catch (err) {
      throw new StoreUnavailableError(`Deno KV commit failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** One message in its own commit, resolving conflicts (Coder retries, fan-out copies). */
  async function acceptAlone(p: Prepared): Promise<AcceptResult> {
    const { input } = p;
    // Event keys known to be live (set after a failed optimistic commit) and versionstamps of
    // expired entries that may be overwritten.
    const live = new Map<string, string>();
    const expired = new Map<string, string>();
    for (let round = 0; round < 8; round++) {
      const op = kv.atomic();
      const deliveries = addAccept(op, p, live, expired);
      if ((await commit(op)).ok) return { status: "created", deliveries };

      // A check failed: the message exists (a Coder retry) or an event key is taken.
      const existing = await kv.get<StoredMeta>(["m", input.msgId]);
      if (existing.value) return { status: "duplicate", receivedAt: existing.value.receivedAt };
      for (const dest of input.destinations) {
        if (!dest.eventKey || live.has(dest.id)) continue;
        const entry = await kv.get<DedupeEntry>(["x", dest.id, dest.eventKey]);
        if (!entry.value) expired.delete(dest.id);
        else if (entry.value.expiresAt > input.receivedAt) live.set(dest.id, entry.value.msgId);
        else expired.set(dest.id, entry.versionstamp);
      }
    }
    throw new StoreUnavailableError("Deno KV accept kept conflicting; try again");
  }

  // Group commit: while one commit is under way, arriving messages queue, and the next commit takes
  // as many as fit one atomic operation. Each caller still resolves only after its own commit.
  interface Queued {
    readonly prepared: Prepared;
    readonly cost: Cost;
    readonly resolve: (r: AcceptResult) => void;
    readonly reject: (err: unknown) => void;
  }
  const queue: Queued[] = [];
  let flushing = false;

  function accept(input: AcceptInput): Promise<AcceptResult> {
    return prepare(input).then((prepared) => {
      const cost = costOf(prepared);
      // A message that alone fills a good part of a commit goes on its own.
      if (cost.bytes > BATCH_LIMITS.bytes / 4) return acceptAlone(prepared);
      return new Promise<AcceptResult>((resolve, reject) => {
        queue.push({ prepared, cost, resolve, reject });
        if (!flushing) void flush();
      });
    });
  }

  async function flush() {
    flushing = true;
    try {
      while (queue.length > 0) {
        const batch = takeBatch(queue);
        if (batch.length === 1) {
          // Alone, conflicts are resolved in place; the queue waits as it would for a batch.
          const [q] = batch;
          await acceptAlone(q.prepared).then(q.resolve, q.reject);
          continue;
        }
        const op = kv.atomic();
        const deliveries = batch.map((q) => addAccept(op, q.prepared));
        let ok: boolean;
        try {
          ok = (await commit(op)).ok;
        } catch (err) {
          for (const q of batch) q.reject(err);
          continue;
        }
        if (ok) {
          batch.forEach((q, i) => q.resolve({ status: "created", deliveries: deliveries[i] }));
        } else {
          // Some check failed (a duplicate msg_id, a live event key): nothing was written, so each
          // message goes again on its own and only the conflicting ones end up duplicate/deduped.
          for (const q of batch) acceptAlone(q.prepared).then(q.resolve, q.reject);
        }
      }
    } finally {
      flushing = false;
    }
  }

  async function lease(
    destination: string,
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<Lease[]> {
    const leases: Lease[] = [];
    if (limit <= 0) return leases;
    const due = kv.list<number | null>(
      { start: ["q", destination], end: ["q", destination, now + 1] },
      { limit: limit * 2 },
    );
    for await (const entry of due) {
      if (leases.length >= limit) break;
      const msgId = entry.key[3] as string;
      const dKey = ["d", msgId, destination];
      const current = await kv.get<DeliveryRecord>(dKey);
      const d = current.value;
      if (!d || FINAL_STATES.has(d.state)) {
        // A queue entry left behind by a purge or a replay: drop it.
        await kv.atomic().check(entry).delete(entry.key).commit();
        continue;
      }
      const until = now + leaseMs;
      const next: DeliveryRecord = { ...d, state: "leased", nextAttemptAt: until, updatedAt: now };
      const res = await kv.atomic().check(current).check(entry)
        .delete(entry.key)
        .set(["q", destination, until, msgId], d.receivedAt)
        .set(dKey, next)
        .commit();
      if (res.ok) {
        leases.push({ delivery: next, expired: d.state === "leased", token: res.versionstamp });
      }
    }
    return leases;
  }

  async function complete(l: Lease, outcome: Outcome): Promise<boolean> {
    const d = l.delivery;
    const dKey = ["d", d.msgId, d.destination];
    const next = applyOutcome(d, outcome);
    const op = kv.atomic()
      .check({ key: dKey, versionstamp: l.token })
      .delete(["q", d.destination, d.nextAttemptAt, d.msgId])
      .set(dKey, next);
    if (next.state === "temporary_failure") {
      op.set(["q", d.destination, next.nextAttemptAt, d.msgId], d.receivedAt);
    }
    if (GIVEN_UP_STATES.has(next.state)) op.set(["f", d.destination, d.msgId], null);
    return (await op.commit()).ok;
  }

  async function getBody(msgId: string): Promise<Uint8Array | null> {
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

  async function purge(before: number): Promise<number> {
    let purged = 0;
    for await (const r of kv.list<null>({ start: ["r"], end: ["r", before] })) {
      const msgId = r.key[2] as string;
      const meta = (await kv.get<StoredMeta>(["m", msgId])).value;
      const op = kv.atomic().delete(r.key).delete(["m", msgId]);
      for (let i = 0; i < (meta?.chunks ?? 0); i++) op.delete(["b", msgId, i]);
      for await (const e of kv.list<DeliveryRecord>({ prefix: ["d", msgId] })) {
        op.delete(e.key).delete(["f", e.value.destination, msgId]);
        if (!FINAL_STATES.has(e.value.state)) {
          op.delete(["q", e.value.destination, e.value.nextAttemptAt, msgId]);
        }
      }
      await op.commit();
      purged++;
    }
    return purged;
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
    for await (
      const r of kv.list<null>({ start: ["r", filter.since ?? 0], end }, { reverse: true })
    ) {
      const [, receivedAt, msgId] = r.key as [string, number, string];
      const found = await getMessage(msgId);
      if (found && matchesMessageFilter(found, filter)) items.push(found);
      if (items.length >= page.limit || ++scanned >= SCAN_LIMIT) {
        return { items, cursor: encodeCursor({ receivedAt, msgId }) };
      }
    }
    return { items };
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
        if (!RETRYABLE_STATES.has(d.state) || d.statusReason === DELETED_DESTINATION_REASON) {
          continue;
        }
        const next = requeued(d, now);
        op.check(e).set(e.key, next).delete(["f", d.destination, msgId])
          .delete(["q", d.destination, d.nextAttemptAt, msgId])
          .set(["q", d.destination, now, msgId], d.receivedAt);
        out.push(next);
      }
      if (out.length === 0 || (await op.commit()).ok) return out;
    }
    throw new StoreUnavailableError("Deno KV retry kept conflicting; try again");
  }

  async function retryFailed(destination: string, now: number): Promise<number> {
    const msgIds: string[] = [];
    for await (const e of kv.list<null>({ prefix: ["f", destination] })) {
      msgIds.push(e.key[2] as string);
    }
    let count = 0;
    for (const msgId of msgIds) count += (await retry(msgId, destination, now)).length;
    return count;
  }

  async function queueStats(): Promise<Map<string, QueueStats>> {
    const stats = new Map<string, { depth: number; oldestReceivedAt?: number }>();
    for await (const e of kv.list<number | null>({ prefix: ["q"] })) {
      const destination = e.key[1] as string;
      const s = stats.get(destination) ?? { depth: 0 };
      s.depth++;
      if (typeof e.value === "number" && !(e.value >= (s.oldestReceivedAt ?? Infinity))) {
        s.oldestReceivedAt = e.value;
      }
      stats.set(destination, s);
    }
    return stats;
  }

  async function getPause(): Promise<PauseState> {
    return (await kv.get<PauseState>(["p"])).value ?? NOT_PAUSED;
  }

  async function setPause(
    destination: string | undefined,
    paused: boolean,
    now: number,
  ): Promise<PauseState> {
    for (let round = 0; round < 8; round++) {
      const current = await kv.get<PauseState>(["p"]);
      const next = switchPause(current.value ?? NOT_PAUSED, destination, paused, now);
      if ((await kv.atomic().check(current).set(["p"], next).commit()).ok) return next;
    }
    throw new StoreUnavailableError("Deno KV pause update kept conflicting; try again");
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
        op.check(d).set(dKey, closedByDeletion(d.value!, now)).set(["f", destination, msgId], null);
      }
      // A conflict is a worker recording an outcome for the same delivery: that outcome stands.
      if ((await op.commit()).ok && open) closed++;
    }
    return closed;
  }

  return {
    accept,
    lease,
    complete,
    getBody,
    getMessage,
    purge,
    listMessages,
    retry,
    retryFailed,
    queueStats,
    getPause,
    setPause,
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
    close() {
      try {
        kv.close();
      } catch { /* already closed */ }
      return Promise.resolve();
    },
    ...kvStats(kv),
  };
}

async function compress(bytes: Uint8Array, way: "compress" | "decompress"): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    way === "compress" ? new CompressionStream("gzip") : new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

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
  type DeliveryState,
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
  released,
  requeued,
  RETRYABLE_STATES,
  type Store,
  StoreUnavailableError,
  type SubscriptionRecord,
  switchPause,
} from "./store.ts";
import { createBodyCache } from "./body_cache.ts";
import {
  ensureIndexed,
  idsByState,
  INDEX_MUTATIONS,
  indexDelivery,
  indexedQueueStats,
} from "./kv_index.ts";
import { createLiveKeys, type LiveKey, liveKey, type LiveKeys } from "./live_keys.ts";

/** Largest KV value is 65,536 bytes; stay clear of it. */
const CHUNK_BYTES = 60_000;
/** Body bytes one commit may carry, leaving room under 800 KiB for keys, metadata and deliveries. */
export const KV_MAX_STORED_BODY = 760 * 1024;

/** Leases in one commit at most (two checks each, under KV's 100). */
const LEASE_BATCH = 32;
/** Outcomes in one commit at most (each a check and up to four mutations). */
const COMPLETE_BATCH = 64;

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
  const keys = 3 + meta.chunks + (2 + INDEX_MUTATIONS) * input.destinations.length +
    dedupe.length;
  return {
    checks: 1 + dedupe.length,
    mutations: keys,
    keyBytes: keys * idBytes + dedupe.reduce((n, d) => n + 3 * d.id.length + d.eventKey!.length, 0),
    bytes: bytes.byteLength + 512 + 1024 * input.destinations.length + 3 * input.name.length,
  };
}

/**
 * Takes from the head of `queue` the messages that fit one commit together, and resolves fan-out
 * copies among them in memory: a copy of an event key that `live` knows to be held, or that a
 * message taken earlier claims in this commit, is recorded as deduplicated (its entry in the
 * returned `dupes`: destination → holder) instead of checking the key again. A message that shares
 * a `msg_id` with one already taken, or would claim a key claimed earlier in this commit (its window
 * having lapsed), waits for the next commit: in one commit both checks would pass and the second
 * write would silently replace the first.
 */
function takeBatch<T extends { prepared: { input: AcceptInput }; cost: Cost }>(
  queue: T[],
  live: LiveKeys,
): { item: T; dupes: Map<string, string> }[] {
  const batch: { item: T; dupes: Map<string, string> }[] = [];
  const taken = new Set<string>();
  const claimed = new Map<string, LiveKey>();
  const sum = { checks: 0, mutations: 0, keyBytes: 0, bytes: 0 };
  for (let i = 0; i < queue.length;) {
    const q = queue[i];
    const { input } = q.prepared;
    const fits = (Object.keys(sum) as (keyof Cost)[]).every((k) =>
      sum[k] + q.cost[k] <= BATCH_LIMITS[k]
    );
    if (batch.length > 0 && !fits) break;
    const dupes = new Map<string, string>();
    const claims: string[] = [];
    let conflict = taken.has(input.msgId);
    for (const d of input.destinations) {
      if (!d.eventKey || input.dedupeWindowMs <= 0) continue;
      const k = liveKey(d.id, d.eventKey);
      const holder = live.get(k, input.receivedAt) ??
        ((claimed.get(k)?.expiresAt ?? 0) > input.receivedAt ? claimed.get(k)!.msgId : undefined);
      if (holder) dupes.set(d.id, holder);
      else if (claimed.has(k)) conflict = true;
      else claims.push(k);
    }
    if (conflict) {
      i++;
      continue;
    }
    taken.add(input.msgId);
    const expiresAt = input.receivedAt + input.dedupeWindowMs;
    for (const k of claims) claimed.set(k, { msgId: input.msgId, expiresAt });
    for (const k of Object.keys(sum) as (keyof Cost)[]) sum[k] += q.cost[k];
    batch.push({ item: q, dupes });
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
  const kv = await Deno.openKv(path);
  await ensureIndexed(kv);
  return createKvStore(kv);
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
      indexDelivery(op, undefined, d);
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

  /** Fan-out event keys known to be held, so that copies skip a failing check. */
  const liveKeys = createLiveKeys();

  /** Bodies of messages just accepted with something to deliver. */
  const bodies = createBodyCache();

  /** Remembers the body of a committed message and the event keys it claimed. */
  function remember(input: AcceptInput, deliveries: readonly DeliveryRecord[]) {
    if (deliveries.some((d) => d.state === "pending")) bodies.set(input.msgId, input.body);
    if (input.dedupeWindowMs <= 0) return;
    input.destinations.forEach((dest, i) => {
      if (dest.eventKey && deliveries[i].state === "pending") {
        liveKeys.set(liveKey(dest.id, dest.eventKey), {
          msgId: input.msgId,
          expiresAt: input.receivedAt + input.dedupeWindowMs,
        });
      }
    });
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
    for (const dest of input.destinations) {
      const holder = dest.eventKey && input.dedupeWindowMs > 0 &&
        liveKeys.get(liveKey(dest.id, dest.eventKey), input.receivedAt);
      if (holder) live.set(dest.id, holder);
    }
    for (let round = 0; round < 8; round++) {
      const op = kv.atomic();
      const deliveries = addAccept(op, p, live, expired);
      if ((await commit(op)).ok) {
        remember(input, deliveries);
        return { status: "created", deliveries };
      }

      // A check failed: the message exists (a Coder retry) or an event key is taken.
      const existing = await kv.get<StoredMeta>(["m", input.msgId]);
      if (existing.value) return { status: "duplicate", receivedAt: existing.value.receivedAt };
      for (const dest of input.destinations) {
        if (!dest.eventKey || live.has(dest.id)) continue;
        const entry = await kv.get<DedupeEntry>(["x", dest.id, dest.eventKey]);
        if (!entry.value) expired.delete(dest.id);
        else if (entry.value.expiresAt > input.receivedAt) {
          live.set(dest.id, entry.value.msgId);
          liveKeys.set(liveKey(dest.id, dest.eventKey), entry.value);
        } else expired.set(dest.id, entry.versionstamp);
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
        const taken = takeBatch(queue, liveKeys);
        const batch = taken.map((t) => t.item);
        if (batch.length === 1) {
          // Alone, conflicts are resolved in place; the queue waits as it would for a batch.
          const [q] = batch;
          await acceptAlone(q.prepared).then(q.resolve, q.reject);
          continue;
        }
        const op = kv.atomic();
        const deliveries = taken.map((t) => addAccept(op, t.item.prepared, t.dupes));
        let ok: boolean;
        try {
          ok = (await commit(op)).ok;
        } catch (err) {
          for (const q of batch) q.reject(err);
          continue;
        }
        if (ok) {
          batch.forEach((q, i) => {
            remember(q.prepared.input, deliveries[i]);
            q.resolve({ status: "created", deliveries: deliveries[i] });
          });
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

  /**
   * Leases due deliveries: the queue entries and their records are read in bulk and every lease
   * goes in one commit (checked against both), so a batch costs one commit, not one per delivery.
   * When that commit conflicts (another worker leased some), each is retried alone.
   */
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

  // Outcomes are group-committed like accepts: those recorded while a commit is under way share
  // the next one. Each is checked against its lease; a shared commit that fails (a lease lost)
  // is retried one by one so only the lost ones report false.
  interface Completion {
    readonly lease: Lease;
    readonly outcome: Outcome;
    readonly resolve: (ok: boolean) => void;
    readonly reject: (err: unknown) => void;
  }
  const completions: Completion[] = [];
  let completing = false;

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

  function complete(lease: Lease, outcome: Outcome): Promise<boolean> {
    return new Promise((resolve, reject) => {
      completions.push({ lease, outcome, resolve, reject });
      if (!completing) void flushCompletions();
    });
  }

  async function flushCompletions() {
    completing = true;
    try {
      while (completions.length > 0) {
        // One delivery never twice in a commit (a second lease on it would overwrite the first).
        const batch: Completion[] = [];
        const seen = new Set<string>();
        for (let i = 0; i < completions.length && batch.length < COMPLETE_BATCH;) {
          const d = completions[i].lease.delivery;
          const k = `${d.msgId}\0${d.destination}`;
          if (seen.has(k)) {
            i++;
            continue;
          }
          seen.add(k);
          batch.push(...completions.splice(i, 1));
        }
        const op = kv.atomic();
        for (const c of batch) addComplete(op, c.lease, c.outcome);
        try {
          if ((await op.commit()).ok) {
            for (const c of batch) c.resolve(true);
          } else if (batch.length === 1) {
            batch[0].resolve(false);
          } else {
            for (const c of batch) {
              const alone = kv.atomic();
              addComplete(alone, c.lease, c.outcome);
              await alone.commit().then((r) => c.resolve(r.ok), c.reject);
            }
          }
        } catch (err) {
          for (const c of batch) c.reject(err);
        }
      }
    } finally {
      completing = false;
    }
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

  async function release(leases: readonly Lease[], now: number): Promise<number> {
    let given = 0;
    for (let i = 0; i < leases.length; i += COMPLETE_BATCH) {
      const chunk = leases.slice(i, i + COMPLETE_BATCH);
      const op = kv.atomic();
      for (const l of chunk) addRelease(op, l, now);
      if ((await op.commit()).ok) {
        given += chunk.length;
        continue;
      }
      for (const l of chunk) {
        const alone = kv.atomic();
        addRelease(alone, l, now);
        if ((await alone.commit()).ok) given++;
      }
    }
    return given;
  }

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

  async function purge(before: number): Promise<number> {
    bodies.clear();
    let purged = 0;
    for await (const r of kv.list<null>({ start: ["r"], end: ["r", before] })) {
      const msgId = r.key[2] as string;
      const meta = (await kv.get<StoredMeta>(["m", msgId])).value;
      // Checked against each delivery as read, so the counters follow a concurrent outcome.
      for (let round = 0; round < 8; round++) {
        const op = kv.atomic().delete(r.key).delete(["m", msgId]);
        for (let i = 0; i < (meta?.chunks ?? 0); i++) op.delete(["b", msgId, i]);
        for await (const e of kv.list<DeliveryRecord>({ prefix: ["d", msgId] })) {
          op.check(e).delete(e.key).delete(["f", e.value.destination, msgId]);
          indexDelivery(op, e.value, undefined);
          if (!FINAL_STATES.has(e.value.state)) {
            op.delete(["q", e.value.destination, e.value.nextAttemptAt, msgId]);
          }
        }
        if ((await op.commit()).ok) break;
      }
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
        if (!RETRYABLE_STATES.has(d.state) || d.statusReason === DELETED_DESTINATION_REASON) {
          continue;
        }
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

  async function retryFailed(destination: string, now: number): Promise<number> {
    const msgIds: string[] = [];
    for await (const e of kv.list<null>({ prefix: ["f", destination] })) {
      msgIds.push(e.key[2] as string);
    }
    let count = 0;
    for (const msgId of msgIds) count += (await retry(msgId, destination, now)).length;
    return count;
  }

  function queueStats(): Promise<Map<string, QueueStats>> {
    return indexedQueueStats(kv);
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
    lease,
    complete,
    release,
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
  };
}

async function compress(bytes: Uint8Array, way: "compress" | "decompress"): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    way === "compress" ? new CompressionStream("gzip") : new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

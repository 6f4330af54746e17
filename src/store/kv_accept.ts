/**
 * Deno KV accepts, group-committed: concurrent messages share one atomic commit (within KV's
 * limits), which is what lets the relay outrun one KV write per request. Each is still
 * acknowledged only once the commit holding it has resolved, and a conflict in a shared commit (a
 * duplicate `msg_id`, a live event key) retries each of its messages alone, so one never fails the
 * others. Bodies over {@link KV_MAX_STORED_BODY} are compressed or refused with 413.
 *
 * A fan-out storm (copies of one event, one event key) is resolved in memory: copies of a key this
 * process knows to be held ({@link ./live_keys.ts}) are recorded as `deduplicated` in the next group
 * commit instead of each failing a shared commit and then conflicting alone.
 *
 * @module
 */
import type { BodyCache } from "./body_cache.ts";
import { INDEX_MUTATIONS, indexDelivery } from "./kv_index.ts";
import { createLiveKeys, type LiveKey, liveKey, type LiveKeys } from "./live_keys.ts";
import {
  type AcceptInput,
  type AcceptResult,
  BodyTooLargeForStoreError,
  type DeliveryRecord,
  type MessageRecord,
  newDelivery,
  StoreUnavailableError,
} from "./store.ts";

/** Largest KV value is 65,536 bytes; stay clear of it. */
const CHUNK_BYTES = 60_000;
/** Body bytes one commit may carry, leaving room under 800 KiB for keys, metadata and deliveries. */
export const KV_MAX_STORED_BODY = 760 * 1024;

export interface StoredMeta extends MessageRecord {
  readonly chunks: number;
  readonly encoding: "raw" | "gzip";
}

interface DedupeEntry {
  readonly msgId: string;
  readonly expiresAt: number;
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

/** The `accept` of a KV store on `kv`; bodies of messages with something to deliver go to `bodies`. */
export function createKvAccept(
  kv: Deno.Kv,
  bodies: BodyCache,
): (input: AcceptInput) => Promise<AcceptResult> {
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

  return accept;
}

/** Gzips or gunzips `bytes`. */
export async function compress(
  bytes: Uint8Array,
  way: "compress" | "decompress",
): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    way === "compress" ? new CompressionStream("gzip") : new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

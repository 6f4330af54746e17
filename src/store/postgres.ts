/**
 * PostgreSQL backend: one database shared by several relay replicas (`RELAY_STORE=postgres://…`).
 * Same contract as Deno KV; what differs is how it holds across processes:
 * - accepts are idempotent on `msg_id` (`ON CONFLICT DO NOTHING`) and group-committed: concurrent
 *   webhooks share one statement, so a batch costs one round trip and one commit
 *   ({@link ./group_commit.ts});
 * - fan-out dedupe is a row per (destination, event key) with a primary key, so two replicas
 *   receiving two copies of one event cannot both win;
 * - leasing is `FOR UPDATE SKIP LOCKED` over a partial index of open deliveries, and every write
 *   bumps a row version that doubles as the lease token.
 *
 * Tables are created by numbered migrations ({@link ./pg_schema.ts}). Each operation is one
 * function below; new queries go next to them.
 *
 * @module
 */
import postgres, { type Sql } from "postgres";
import { normalizeName } from "../coder.ts";
import { createBodyCache } from "./body_cache.ts";
import { groupCommit } from "./group_commit.ts";
import { guardClearedImmediates } from "./pg_immediates.ts";
import { migrate } from "./pg_schema.ts";
import {
  type AcceptInput,
  type AcceptResult,
  applyOutcome,
  type Attempt,
  decodeCursor,
  DELETED_DESTINATION_REASON,
  type DeliveryRecord,
  type DeliveryState,
  encodeCursor,
  fanoutCopyReason,
  GIVEN_UP_STATES,
  type Lease,
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

/** Tuning for {@link openPostgresStore}. */
export interface PostgresStoreOptions {
  /** Connections per relay process (`RELAY_PG_POOL`). */
  readonly poolSize: number;
  /** Accepts sharing one transaction at most; 1 turns group commit off. */
  readonly maxBatch?: number;
}

/** Accepts per transaction at most; bounds the statement size (and a batch's parameters). */
const DEFAULT_MAX_BATCH = 64;
/** Body bytes per batch at most: bodies travel hex-encoded, so this keeps one statement small. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/**
 * Accept batches in flight at once per process. Few and large beats many and small: measured on
 * 2 cores, 1–2 in flight accepted about twice what 4 did, and 2 keeps one slow commit (a lock wait
 * on another replica's dedupe row) from stalling every webhook.
 */
const COMMITS_IN_FLIGHT = 2;
/** Rows one purge statement deletes, so a purge never holds long locks or a huge transaction. */
const PURGE_BATCH = 1000;
/** Deliveries one `retryFailed` statement re-queues, for the same reason. */
const RETRY_BATCH = 1000;

/** Connects, migrates and returns the store; the pool is closed again if migrating fails. */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions,
): Promise<Store> {
  guardClearedImmediates();
  const sql = postgres(url, {
    max: options.poolSize,
    connect_timeout: 5,
    // `CREATE … IF NOT EXISTS` notices are not news.
    onnotice: () => {},
    // Times are ms since epoch in bigint columns: well inside Number's exact range.
    types: { int8: { to: 20, from: [20], serialize: String, parse: Number } },
    connection: { application_name: "coder-relay" },
  });
  try {
    await migrate(sql);
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw new StoreUnavailableError(
      `RELAY_STORE: cannot prepare the PostgreSQL store at ${redactUrl(url)}: ${
        (err as Error).message
      }`,
      { cause: err },
    );
  }
  return createPostgresStore(sql, options);
}

/** `postgres://relay:secret@db/relay` → `postgres://relay:***@db/relay`, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*):[^@]*@/i, "$1:***@");
}

/** The driver hands out Node Buffers; callers get a plain Uint8Array like KV's. */
function plainBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Wraps a pool whose database is migrated; the store owns the pool and ends it on `close()`. */
export function createPostgresStore(sql: Sql, options: PostgresStoreOptions): Store {
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  const batches = groupCommit<AcceptInput, AcceptResult>(
    (inputs) => retryConflicts(() => acceptAll(sql, inputs)),
    {
      maxBatch,
      // Without batching, every accept is its own statement, as many at once as the pool allows.
      maxInFlight: maxBatch > 1 ? Math.min(COMMITS_IN_FLIGHT, options.poolSize) : options.poolSize,
      key: (input) => input.msgId,
      weight: (input) => input.body.byteLength,
      maxWeight: MAX_BATCH_BYTES,
      splittable: (err) => err instanceof postgres.PostgresError && !isUnavailable(err),
    },
  );

  async function accept(input: AcceptInput): Promise<AcceptResult> {
    try {
      const result = await batches.submit(input);
      if (result.status === "created" && result.deliveries.some((d) => d.state === "pending")) {
        bodies.set(input.msgId, input.body);
      }
      return result;
    } catch (err) {
      throw new StoreUnavailableError(`PostgreSQL accept failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async function lease(
    destination: string,
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<Lease[]> {
    if (limit <= 0) return [];
    const rows = await sql<(DeliveryRow & { was: DeliveryState })[]>`
      WITH due AS (
        SELECT msg_id, destination, state FROM relay_deliveries
        WHERE destination = ${destination} AND next_attempt_at <= ${now}
          -- literally the predicate of the partial index relay_deliveries_due
          AND state IN ('pending', 'leased', 'temporary_failure')
        ORDER BY next_attempt_at, msg_id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      )
      UPDATE relay_deliveries d
      SET state = 'leased', next_attempt_at = ${now + leaseMs}, updated_at = ${now},
          version = d.version + 1
      FROM due
      WHERE d.msg_id = due.msg_id AND d.destination = due.destination
      RETURNING d.*, due.state AS was`;
    // The bodies of what was leased in one query, so that their sends read nothing more.
    const missing = rows.map((r) => r.msg_id).filter((id) => !bodies.get(id));
    if (missing.length > 0) {
      const found = await sql<{ msg_id: string; body: Uint8Array }[]>`
        SELECT msg_id, body FROM relay_messages WHERE msg_id = ANY(${missing}::text[])`;
      for (const b of found) bodies.set(b.msg_id, plainBytes(b.body));
    }
    return rows.map((r) => ({
      delivery: toDelivery(r),
      expired: r.was === "leased",
      token: String(r.version),
      previous: r.was,
    }));
  }

  /**
   * Outcomes recorded while a statement is under way share the next one: one UPDATE (one commit)
   * for a batch, each row matched only at its lease's version, so a lost lease alone reports false.
   */
  const completions = groupCommit<{ lease: Lease; outcome: Outcome }, boolean>(
    async (items) => {
      const next = items.map((i) => applyOutcome(i.lease.delivery, i.outcome));
      const updated = await sql<{ msg_id: string; destination: string }[]>`
        UPDATE relay_deliveries d
        SET state = u.state, attempts = u.attempts, next_attempt_at = u.next_attempt_at,
            updated_at = u.updated_at, status_reason = u.status_reason,
            history = u.history::jsonb, version = d.version + 1
        FROM unnest(
          ${next.map((d) => d.msgId)}::text[], ${next.map((d) => d.destination)}::text[],
          ${items.map((i) => i.lease.token)}::bigint[], ${next.map((d) => d.state)}::text[],
          ${next.map((d) => d.attempts)}::integer[], ${next.map((d) => d.nextAttemptAt)}::bigint[],
          ${next.map((d) => d.updatedAt)}::bigint[], ${
        next.map((d) => d.statusReason ?? null)
      }::text[], ${next.map((d) => JSON.stringify(d.history))}::text[]
        ) AS u (msg_id, destination, version, state, attempts, next_attempt_at, updated_at,
          status_reason, history)
        WHERE d.msg_id = u.msg_id AND d.destination = u.destination AND d.version = u.version
        RETURNING d.msg_id, d.destination`;
      const done = new Set(updated.map((r) => `${r.msg_id}\0${r.destination}`));
      return next.map((d) => done.has(`${d.msgId}\0${d.destination}`));
    },
    {
      maxBatch: 64,
      maxInFlight: Math.min(COMMITS_IN_FLIGHT, options.poolSize),
      key: (i) => `${i.lease.delivery.msgId}\0${i.lease.delivery.destination}`,
      splittable: (err) => err instanceof postgres.PostgresError && !isUnavailable(err),
    },
  );

  function complete(lease: Lease, outcome: Outcome): Promise<boolean> {
    return completions.submit({ lease, outcome });
  }

  async function release(leases: readonly Lease[], now: number): Promise<number> {
    if (leases.length === 0) return 0;
    const res = await sql`
      UPDATE relay_deliveries d
      SET state = u.state, next_attempt_at = ${now}, updated_at = ${now}, version = d.version + 1
      FROM unnest(
        ${leases.map((l) => l.delivery.msgId)}::text[],
        ${leases.map((l) => l.delivery.destination)}::text[],
        ${leases.map((l) => l.token)}::bigint[], ${leases.map((l) => l.previous)}::text[]
      ) AS u (msg_id, destination, version, state)
      WHERE d.msg_id = u.msg_id AND d.destination = u.destination AND d.version = u.version`;
    return res.count;
  }

  /** Bodies of messages just accepted with something to deliver. */
  const bodies = createBodyCache();

  async function getBody(msgId: string): Promise<Uint8Array | null> {
    const cached = bodies.get(msgId);
    if (cached) return cached;
    const [row] = await sql<{ body: Uint8Array }[]>`
      SELECT body FROM relay_messages WHERE msg_id = ${msgId}`;
    return row ? plainBytes(row.body) : null;
  }

  /**
   * The columns of a {@link MessageRow} for a query over `relay_messages m`: the message and its
   * deliveries in one statement, so a concurrent purge cannot split them.
   */
  const messageColumns = () =>
    sql`m.msg_id, m.received_at, m.name, m.size,
      (SELECT coalesce(json_agg(d ORDER BY d.destination COLLATE "C"), '[]')
         FROM relay_deliveries d WHERE d.msg_id = m.msg_id) AS deliveries`;

  async function getMessage(msgId: string): Promise<MessageWithDeliveries | null> {
    const [row] = await sql<MessageRow[]>`
      SELECT ${messageColumns()} FROM relay_messages m WHERE m.msg_id = ${msgId}`;
    return row ? toMessageWithDeliveries(row) : null;
  }

  async function purge(before: number): Promise<number> {
    bodies.clear();
    let purged = 0;
    for (;;) {
      // Deliveries go with their message (ON DELETE CASCADE).
      const res = await sql`
        DELETE FROM relay_messages WHERE msg_id IN (
          SELECT msg_id FROM relay_messages WHERE received_at < ${before}
          ORDER BY received_at LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)`;
      purged += res.count;
      if (res.count < PURGE_BATCH) break;
    }
    for (;;) {
      const res = await sql`
        DELETE FROM relay_dedupe WHERE (destination, event_key) IN (
          SELECT destination, event_key FROM relay_dedupe WHERE expires_at < ${before}
          LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)`;
      if (res.count < PURGE_BATCH) break;
    }
    return purged;
  }

  async function listMessages(
    filter: MessageFilter,
    page: { cursor?: string; limit: number },
  ): Promise<MessagePage> {
    const after = page.cursor ? decodeCursor(page.cursor) : undefined;
    // With a state, the deliveries' index by state leads (a rare state stays cheap among millions
    // of sent ones; one message may match by several deliveries, hence DISTINCT); otherwise the
    // messages' index by time does, and a destination is a primary-key probe per message.
    const byState = filter.state !== undefined;
    const where = [sql`TRUE`];
    if (filter.since !== undefined) where.push(sql`x.received_at >= ${filter.since}`);
    if (filter.until !== undefined) where.push(sql`x.received_at < ${filter.until}`);
    if (after) {
      where.push(sql`(x.received_at, x.msg_id) < (${after.receivedAt}, ${after.msgId})`);
    }
    // `name_key` is the message's in both shapes (deliveries have none).
    if (filter.name) where.push(sql`name_key = ${normalizeName(filter.name)}`);
    if (filter.state) where.push(sql`x.state = ${filter.state}`);
    if (filter.destination) {
      where.push(
        byState ? sql`x.destination = ${filter.destination}` : sql`EXISTS (
          SELECT 1 FROM relay_deliveries d
          WHERE d.msg_id = x.msg_id AND d.destination = ${filter.destination})`,
      );
    }
    // One row more than a page tells whether there is a next one.
    const rows = await sql<MessageRow[]>`
      WITH page AS (
        SELECT ${byState ? sql`DISTINCT` : sql``} x.received_at, x.msg_id
        FROM ${
      byState
        ? sql`relay_deliveries x JOIN relay_messages m ON m.msg_id = x.msg_id`
        : sql`relay_messages x`
    }
        WHERE ${where.reduce((a, b) => sql`${a} AND ${b}`)}
        ORDER BY x.received_at DESC, x.msg_id DESC
        LIMIT ${page.limit + 1}
      )
      SELECT ${messageColumns()} FROM page JOIN relay_messages m ON m.msg_id = page.msg_id
      ORDER BY page.received_at DESC, page.msg_id DESC`;
    const items = rows.slice(0, page.limit).map(toMessageWithDeliveries);
    const last = items.at(-1)?.message;
    return rows.length > page.limit && last ? { items, cursor: encodeCursor(last) } : { items };
  }

  /**
   * Re-queues `rows` as {@link requeued} makes them, each only if it is unchanged since it was read
   * (same version): one leased, completed or replayed meanwhile, by any replica, is left alone.
   */
  async function requeue(rows: DeliveryRow[], now: number): Promise<DeliveryRecord[]> {
    if (rows.length === 0) return [];
    const next = rows.map((r) => requeued(toDelivery(r), now));
    const updated = await sql<DeliveryRow[]>`
      UPDATE relay_deliveries d
      SET state = u.state, attempts = u.attempts, next_attempt_at = u.next_attempt_at,
          updated_at = u.updated_at, status_reason = u.status_reason, version = d.version + 1
      FROM unnest(
        ${rows.map((r) => r.msg_id)}::text[], ${rows.map((r) => r.destination)}::text[],
        ${rows.map((r) => r.version)}::bigint[], ${next.map((d) => d.state)}::text[],
        ${next.map((d) => d.attempts)}::integer[], ${next.map((d) => d.nextAttemptAt)}::bigint[],
        ${next.map((d) => d.updatedAt)}::bigint[], ${
      next.map((d) => d.statusReason ?? null)
    }::text[]
      ) AS u (msg_id, destination, version, state, attempts, next_attempt_at, updated_at,
        status_reason)
      WHERE d.msg_id = u.msg_id AND d.destination = u.destination AND d.version = u.version
      RETURNING d.*`;
    return updated.map(toDelivery);
  }

  async function retry(
    msgId: string,
    destination: string | undefined,
    now: number,
  ): Promise<DeliveryRecord[]> {
    const out: DeliveryRecord[] = [];
    // A row that changed between read and write is read again: it may still be retryable.
    for (let round = 0; round < 8; round++) {
      const rows = await sql<DeliveryRow[]>`
        SELECT * FROM relay_deliveries
        WHERE msg_id = ${msgId} AND state = ANY(${[...RETRYABLE_STATES]}::text[])
          AND status_reason IS DISTINCT FROM ${DELETED_DESTINATION_REASON}
          ${destination === undefined ? sql`` : sql`AND destination = ${destination}`}`;
      const done = await requeue(rows, now);
      out.push(...done);
      if (done.length === rows.length) {
        return out.sort((a, b) => compare(a.destination, b.destination));
      }
    }
    throw new StoreUnavailableError("PostgreSQL retry kept conflicting; try again");
  }

  async function retryFailed(destination: string, now: number): Promise<number> {
    let count = 0;
    for (;;) {
      const rows = await sql<DeliveryRow[]>`
        SELECT * FROM relay_deliveries
        WHERE state = ANY(${[...GIVEN_UP_STATES]}::text[]) AND destination = ${destination}
          AND status_reason IS DISTINCT FROM ${DELETED_DESTINATION_REASON}
        LIMIT ${RETRY_BATCH}`;
      if (rows.length === 0) return count;
      count += (await requeue(rows, now)).length;
    }
  }

  async function queueStats(): Promise<Map<string, QueueStats>> {
    const rows = await sql<{ destination: string; depth: number; oldest: number }[]>`
      SELECT destination, count(*)::integer AS depth, min(received_at) AS oldest
      FROM relay_deliveries
      -- literally the predicate of the partial index relay_deliveries_due: open deliveries only
      WHERE state IN ('pending', 'leased', 'temporary_failure')
      GROUP BY destination`;
    return new Map(
      rows.map((r) => [r.destination, { depth: r.depth, oldestReceivedAt: r.oldest }]),
    );
  }

  async function getPause(): Promise<PauseState> {
    const [row] = await sql<{ value: PauseState }[]>`
      SELECT value FROM relay_settings WHERE name = 'pause'`;
    return row?.value ?? NOT_PAUSED;
  }

  async function setPause(
    destination: string | undefined,
    paused: boolean,
    now: number,
  ): Promise<PauseState> {
    const json = (p: PauseState) => sql.json(p as unknown as postgres.JSONValue);
    return await sql.begin(async (tx) => {
      // The first switch creates the row; its lock then orders the switches of every replica.
      await tx`
        INSERT INTO relay_settings (name, value) VALUES ('pause', ${json(NOT_PAUSED)})
        ON CONFLICT (name) DO NOTHING`;
      const [row] = await tx<{ value: PauseState }[]>`
        SELECT value FROM relay_settings WHERE name = 'pause' FOR UPDATE`;
      const next = switchPause(row.value, destination, paused, now);
      await tx`UPDATE relay_settings SET value = ${json(next)} WHERE name = 'pause'`;
      return next;
    });
  }

  async function listSubscriptions(): Promise<SubscriptionRecord[]> {
    const rows = await sql<{ record: SubscriptionRecord }[]>`
      SELECT record FROM relay_subscriptions ORDER BY created_at, id COLLATE "C"`;
    return rows.map((r) => r.record);
  }

  async function getSubscription(id: string): Promise<SubscriptionRecord | null> {
    const [row] = await sql<{ record: SubscriptionRecord }[]>`
      SELECT record FROM relay_subscriptions WHERE id = ${id}`;
    return row?.record ?? null;
  }

  async function putSubscription(sub: SubscriptionRecord): Promise<void> {
    await sql`
      INSERT INTO relay_subscriptions (id, created_at, record)
      VALUES (${sub.id}, ${sub.createdAt}, ${sql.json(sub as unknown as postgres.JSONValue)})
      ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, record = excluded.record`;
  }

  async function deleteSubscription(id: string): Promise<boolean> {
    return (await sql`DELETE FROM relay_subscriptions WHERE id = ${id}`).count === 1;
  }

  async function closeDeliveries(destination: string, now: number): Promise<number> {
    const res = await sql`
      UPDATE relay_deliveries
      SET state = 'permanent_failure', next_attempt_at = ${now}, updated_at = ${now},
          status_reason = ${DELETED_DESTINATION_REASON}, version = version + 1
      WHERE destination = ${destination}
        -- literally the predicate of the partial index relay_deliveries_due: open deliveries only
        AND state IN ('pending', 'leased', 'temporary_failure')`;
    return res.count;
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
    getSubscription,
    putSubscription,
    deleteSubscription,
    closeDeliveries,
    async ping() {
      await sql`SELECT 1`;
    },
    async close() {
      await batches.drain();
      await completions.drain();
      await sql.end({ timeout: 5 });
    },
  };
}

/**
 * One statement stores a whole batch, so a batch costs one round trip and one commit:
 * - `ins`: the messages; a `msg_id` already there is a Coder retry and is left alone;
 * - `claims`: the fan-out event keys of the new messages, the first message of the batch naming a
 *   key claiming it. A claim takes over an entry that had expired by its receipt time; a live one
 *   keeps its owner, whom the (otherwise no-op) update returns;
 * - the new messages' deliveries: `deduplicated` where another message owns the event key.
 * Rows go in key order (`msg_id`, then destination and key) so that batches committing at once on
 * several replicas lock in the same order and cannot deadlock.
 */
const ACCEPT_SQL = `
  WITH msg_in AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::integer[], $5::bytea[],
      $15::text[]) AS t (msg_id, received_at, name, size, body, name_key)
  ), ins AS (
    INSERT INTO relay_messages (msg_id, received_at, name, size, body, name_key)
    SELECT * FROM msg_in ORDER BY msg_id
    ON CONFLICT (msg_id) DO NOTHING
    RETURNING msg_id, received_at, name
  ), claim_in AS (
    SELECT DISTINCT ON (c.destination, c.event_key) c.destination, c.event_key, c.msg_id,
      ins.received_at AS claimed_at, ins.received_at + c.window_ms AS expires_at
    FROM unnest($6::integer[], $7::text[], $8::text[], $9::text[], $10::bigint[])
      AS c (ord, msg_id, destination, event_key, window_ms)
    JOIN ins USING (msg_id)
    ORDER BY c.destination, c.event_key, c.ord
  ), claims AS (
    INSERT INTO relay_dedupe AS x (destination, event_key, msg_id, claimed_at, expires_at)
    SELECT * FROM claim_in
    ON CONFLICT (destination, event_key) DO UPDATE SET
      msg_id = CASE WHEN x.expires_at <= excluded.claimed_at THEN excluded.msg_id ELSE x.msg_id END,
      claimed_at = CASE WHEN x.expires_at <= excluded.claimed_at
        THEN excluded.claimed_at ELSE x.claimed_at END,
      expires_at = CASE WHEN x.expires_at <= excluded.claimed_at
        THEN excluded.expires_at ELSE x.expires_at END
    RETURNING x.destination, x.event_key, x.msg_id AS owner
  ), deliveries AS (
    INSERT INTO relay_deliveries (msg_id, destination, name, received_at, state, attempts,
      next_attempt_at, updated_at, status_reason, version)
    SELECT d.msg_id, d.destination, ins.name, ins.received_at,
      CASE WHEN c.owner <> d.msg_id THEN 'deduplicated' ELSE 'pending' END, 0,
      ins.received_at, ins.received_at,
      CASE WHEN c.owner <> d.msg_id THEN replace($14, '{owner}', c.owner) END, 1
    FROM unnest($11::text[], $12::text[], $13::text[]) AS d (msg_id, destination, event_key)
    JOIN ins USING (msg_id)
    LEFT JOIN claims c ON c.destination = d.destination AND c.event_key = d.event_key
    ORDER BY d.msg_id, d.destination
    RETURNING 1
  )
  SELECT (SELECT coalesce(json_agg(msg_id), '[]') FROM ins) AS created,
    (SELECT coalesce(json_agg(json_build_array(destination, event_key, owner)), '[]')
       FROM claims) AS owners,
    (SELECT count(*) FROM deliveries) AS deliveries`;

/** The status reason of a deduplicated delivery, with `{owner}` for the owning message. */
const FANOUT_REASON = fanoutCopyReason("{owner}");

/** Stores a batch (see {@link ACCEPT_SQL}); results in input order. */
async function acceptAll(sql: Sql, inputs: AcceptInput[]): Promise<AcceptResult[]> {
  const msgs = [...inputs].sort((a, b) => compare(a.msgId, b.msgId));
  const claims: [number, string, string, string, number][] = [];
  const targets: [string, string, string | null][] = [];
  inputs.forEach((input, ord) => {
    for (const dest of input.destinations) {
      const key = dest.eventKey && input.dedupeWindowMs > 0 ? dest.eventKey : null;
      targets.push([input.msgId, dest.id, key]);
      if (key) claims.push([ord, input.msgId, dest.id, key, input.dedupeWindowMs]);
    }
  });
  const col = <T, K extends keyof T>(rows: T[], k: K) => rows.map((r) => r[k]);
  const [row] = await sql.unsafe<
    { created: string[]; owners: [string, string, string][]; deliveries: number }[]
  >(ACCEPT_SQL, [
    msgs.map((m) => m.msgId),
    msgs.map((m) => m.receivedAt),
    msgs.map((m) => m.name),
    msgs.map((m) => m.body.byteLength),
    sql.array(msgs.map((m) => m.body)),
    col(claims, 0),
    col(claims, 1),
    col(claims, 2),
    col(claims, 3),
    col(claims, 4),
    col(targets, 0),
    col(targets, 1),
    col(targets, 2),
    FANOUT_REASON,
    msgs.map((m) => normalizeName(m.name)),
  ] as postgres.ParameterOrJSON<never>[], { prepare: true });
  const created = new Set(row.created);
  const owners = new Map(row.owners.map(([d, k, owner]) => [claimKey(d, k), owner]));
  const retried = inputs.filter((i) => !created.has(i.msgId)).map((i) => i.msgId);
  // A retry's first receipt committed before ours (ON CONFLICT waited for it): a new statement
  // sees it.
  const existing = new Map<string, number>();
  if (retried.length > 0) {
    for (
      const r of await sql<{ msg_id: string; received_at: number }[]>`
        SELECT msg_id, received_at FROM relay_messages WHERE msg_id = ANY(${retried}::text[])`
    ) existing.set(r.msg_id, r.received_at);
  }
  return inputs.map((input): AcceptResult => {
    if (!created.has(input.msgId)) {
      return { status: "duplicate", receivedAt: existing.get(input.msgId) ?? input.receivedAt };
    }
    const deliveries = input.destinations.map((dest) => {
      const owner = dest.eventKey && input.dedupeWindowMs > 0
        ? owners.get(claimKey(dest.id, dest.eventKey))
        : undefined;
      return newDelivery(input, dest.id, owner !== input.msgId ? owner : undefined);
    });
    return { status: "created", deliveries };
  });
}

/** Retries a statement the database aborted to break a deadlock or a serialization conflict. */
async function retryConflicts<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await run();
    } catch (err) {
      const code = err instanceof postgres.PostgresError ? err.code : "";
      if (attempt >= 5 || (code !== "40P01" && code !== "40001")) throw err;
      await new Promise((r) => setTimeout(r, attempt * 5 * Math.random()));
    }
  }
}

/** Connection trouble, resource exhaustion or shutdown: nothing a smaller batch would fix. */
function isUnavailable(err: InstanceType<typeof postgres.PostgresError>): boolean {
  return /^(08|53|57)/.test(err.code);
}

interface DeliveryRow {
  readonly msg_id: string;
  readonly destination: string;
  readonly name: string;
  readonly received_at: number;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly next_attempt_at: number;
  readonly updated_at: number;
  readonly status_reason: string | null;
  readonly history: readonly Attempt[];
  readonly version: number;
}

/** What {@link createPostgresStore}'s `messageColumns` select. */
interface MessageRow {
  readonly msg_id: string;
  readonly received_at: number;
  readonly name: string;
  readonly size: number;
  readonly deliveries: DeliveryRow[];
}

function toMessageWithDeliveries(r: MessageRow): MessageWithDeliveries {
  const message: MessageRecord = {
    msgId: r.msg_id,
    receivedAt: r.received_at,
    name: r.name,
    size: r.size,
  };
  return { message, deliveries: r.deliveries.map(toDelivery) };
}

/** A row (from the driver or from `json_agg`) as the record both backends hand out. */
function toDelivery(r: DeliveryRow): DeliveryRecord {
  return {
    msgId: r.msg_id,
    destination: r.destination,
    name: r.name,
    receivedAt: Number(r.received_at),
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: Number(r.next_attempt_at),
    updatedAt: Number(r.updated_at),
    statusReason: r.status_reason ?? undefined,
    history: r.history.map((a) => ({
      at: a.at,
      state: a.state,
      latencyMs: a.latencyMs,
      status: a.status,
      reason: a.reason,
    })),
  };
}

function claimKey(destination: string, eventKey: string): string {
  return `${destination}\u0000${eventKey}`;
}

/** Code-unit order, the same everywhere (locale collations differ between servers). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

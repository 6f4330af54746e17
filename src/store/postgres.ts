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
import { REDACTED, redactUrl as redactAnyUrl } from "../redact.ts";
import postgres, { type Sql } from "postgres";
import { normalizeName } from "../coder.ts";
import { createBodyCache } from "./body_cache.ts";
import { groupCommit } from "./group_commit.ts";
import { createPgLeasing } from "./pg_lease.ts";
import { acceptAll, isUnavailable, retryConflicts } from "./pg_accept.ts";
import {
  compare,
  type DeliveryRow,
  type MessageRow,
  toDelivery,
  toMessageWithDeliveries,
} from "./pg_rows.ts";
import { createPgSettings } from "./pg_settings.ts";
import { guardClearedImmediates } from "./pg_immediates.ts";
import { migrate } from "./pg_schema.ts";
import { pgStats } from "./pg_stats.ts";
import {
  type AcceptInput,
  type AcceptResult,
  decodeCursor,
  DELETED_DESTINATION_REASON,
  type DeliveryRecord,
  encodeCursor,
  FINAL_STATE_LIST,
  GIVEN_UP_STATES,
  type MessageFilter,
  type MessagePage,
  type MessageWithDeliveries,
  OPEN_STATES_SQL,
  type QueueStats,
  requeued,
  RETRYABLE_STATES,
  type Store,
  StoreUnavailableError,
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
  return redactAnyUrl(url).replaceAll(REDACTED, "***");
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

  /** The partial index `relay_deliveries_due`'s predicate, literally, so that queries use it. */
  const openStates = () => sql.unsafe(OPEN_STATES_SQL);
  /** Bodies of messages just accepted or leased, so that their sends need not read them. */
  const bodies = createBodyCache();
  const leasing = createPgLeasing(sql, bodies, {
    maxInFlight: Math.min(COMMITS_IN_FLIGHT, options.poolSize),
  });

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
      // Deliveries go with their message (ON DELETE CASCADE). Only messages whose deliveries all
      // became final before `before`; locked ones (being leased or replayed) wait for the next run.
      const res = await sql`
        DELETE FROM relay_messages WHERE msg_id IN (
          SELECT m.msg_id FROM relay_messages m WHERE m.received_at < ${before}
            AND NOT EXISTS (
              SELECT 1 FROM relay_deliveries d WHERE d.msg_id = m.msg_id
                AND (d.state <> ALL(${FINAL_STATE_LIST}::text[]) OR d.updated_at >= ${before}))
          ORDER BY m.received_at LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)`;
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

  async function countOpen(before: number): Promise<number> {
    const [row] = await sql<{ open: number }[]>`
      SELECT count(*)::integer AS open FROM relay_deliveries
      WHERE state IN ${openStates()} AND received_at < ${before}`;
    return row.open;
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
          AND closed_by IS NULL
          ${destination === undefined ? sql`` : sql`AND destination = ${destination}`}`;
      const done = await requeue(rows, now);
      out.push(...done);
      if (done.length === rows.length) {
        return out.sort((a, b) => compare(a.destination, b.destination));
      }
    }
    throw new StoreUnavailableError("PostgreSQL retry kept conflicting; try again");
  }

  async function retryFailed(
    destination: string,
    now: number,
    skip?: (d: DeliveryRecord) => Promise<boolean>,
  ): Promise<string[]> {
    const out: string[] = [];
    // Keyset pages: a skipped row stays given up, so it must not be read again.
    let after = "";
    for (;;) {
      const rows = await sql<DeliveryRow[]>`
        SELECT * FROM relay_deliveries
        WHERE state = ANY(${[...GIVEN_UP_STATES]}::text[]) AND destination = ${destination}
          AND closed_by IS NULL
          AND msg_id > ${after}
        ORDER BY msg_id LIMIT ${RETRY_BATCH}`;
      if (rows.length === 0) return out;
      after = rows[rows.length - 1].msg_id;
      const kept: DeliveryRow[] = [];
      for (const r of rows) if (!skip || !await skip(toDelivery(r))) kept.push(r);
      out.push(...(await requeue(kept, now)).map((d) => d.msgId));
    }
  }

  async function queueStats(): Promise<Map<string, QueueStats>> {
    const rows = await sql<{ destination: string; depth: number; oldest: number }[]>`
      SELECT destination, count(*)::integer AS depth, min(received_at) AS oldest
      FROM relay_deliveries
      WHERE state IN ${openStates()}
      GROUP BY destination`;
    return new Map(
      rows.map((r) => [r.destination, { depth: r.depth, oldestReceivedAt: r.oldest }]),
    );
  }

  async function closeDeliveries(destination: string, now: number): Promise<number> {
    const res = await sql`
      UPDATE relay_deliveries
      SET state = 'permanent_failure', next_attempt_at = ${now}, updated_at = ${now},
          status_reason = ${DELETED_DESTINATION_REASON}, closed_by = 'deletion',
          version = version + 1
      WHERE destination = ${destination} AND state IN ${openStates()}`;
    return res.count;
  }

  return {
    accept,
    lease: leasing.lease,
    complete: leasing.complete,
    release: leasing.release,
    getBody: leasing.getBody,
    getMessage,
    purge,
    countOpen,
    listMessages,
    retry,
    retryFailed,
    queueStats,
    ...createPgSettings(sql),
    closeDeliveries,
    async ping() {
      await sql`SELECT 1`;
    },
    async close() {
      await batches.drain();
      await leasing.drain();
      await sql.end({ timeout: 5 });
    },
    ...pgStats(sql),
  };
}

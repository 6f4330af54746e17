/**
 * PostgreSQL leases and outcomes, in batches: a destination's due deliveries are leased in one
 * statement (`FOR UPDATE SKIP LOCKED`) with their bodies read in one more, outcomes recorded while
 * a statement is under way share the next one ({@link ./group_commit.ts}), and leases a worker held
 * ahead but never sent are given back in one. Each row is matched at its lease's version, so a
 * lost lease alone reports false.
 *
 * @module
 */
import postgres, { type Sql } from "postgres";
import type { BodyCache } from "./body_cache.ts";
import { groupCommit } from "./group_commit.ts";
import { isUnavailable } from "./pg_accept.ts";
import { type DeliveryRow, toDelivery } from "./pg_rows.ts";
import {
  applyOutcome,
  type DeliveryState,
  type Lease,
  OPEN_STATES_SQL,
  type Outbox,
  type Outcome,
} from "./store.ts";

/** Outcomes in one statement at most. */
const COMPLETE_BATCH = 64;

/** The driver hands out Node Buffers; callers get a plain Uint8Array like KV's. */
function plainBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** The lease side of a PostgreSQL store; leased bodies are read ahead into `bodies`. */
export function createPgLeasing(
  sql: Sql,
  bodies: BodyCache,
  opts: {
    /** Outcome statements in flight at once. */
    readonly maxInFlight: number;
  },
): Pick<Outbox, "lease" | "complete" | "release" | "getBody"> & { drain(): Promise<void> } {
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
          AND state IN ${sql.unsafe(OPEN_STATES_SQL)}
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
      maxBatch: COMPLETE_BATCH,
      maxInFlight: opts.maxInFlight,
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

  async function getBody(msgId: string): Promise<Uint8Array | null> {
    const cached = bodies.get(msgId);
    if (cached) return cached;
    const [row] = await sql<{ body: Uint8Array }[]>`
      SELECT body FROM relay_messages WHERE msg_id = ${msgId}`;
    return row ? plainBytes(row.body) : null;
  }

  return {
    lease,
    complete,
    release,
    getBody,
    drain: () => completions.drain(),
  };
}

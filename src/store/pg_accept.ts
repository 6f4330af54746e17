/**
 * PostgreSQL accepts: a whole group-committed batch in one statement.
 *
 * @module
 */
import postgres, { type Sql } from "postgres";
import { normalizeName } from "../coder.ts";
import { compare } from "./pg_rows.ts";
import { type AcceptInput, type AcceptResult, fanoutCopyReason, newDelivery } from "./store.ts";

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
export async function acceptAll(sql: Sql, inputs: AcceptInput[]): Promise<AcceptResult[]> {
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
export async function retryConflicts<T>(run: () => Promise<T>): Promise<T> {
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
export function isUnavailable(err: InstanceType<typeof postgres.PostgresError>): boolean {
  return /^(08|53|57)/.test(err.code);
}

function claimKey(destination: string, eventKey: string): string {
  return `${destination}\u0000${eventKey}`;
}

/**
 * The PostgreSQL schema, as numbered migrations applied at start. Several replicas may start at
 * once: the first takes a transaction-scoped advisory lock and migrates, the others wait for it and
 * then find nothing left to do. A migration is never edited once released; changes are new entries.
 *
 * Times are milliseconds since epoch in `bigint` columns, exactly as the `Store` interface carries
 * them, so both backends compare and order them the same way.
 *
 * @module
 */
import type { Sql } from "postgres";

/** One schema change; `version` orders them and is recorded in `relay_schema_migrations`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: "outbox",
  sql: `
    CREATE TABLE relay_messages (
      msg_id      text PRIMARY KEY,
      received_at bigint NOT NULL,
      name        text NOT NULL,
      size        integer NOT NULL,
      body        bytea NOT NULL
    );
    -- Retention purge and listing by receipt time.
    CREATE INDEX relay_messages_received_at ON relay_messages (received_at);

    CREATE TABLE relay_deliveries (
      msg_id          text NOT NULL REFERENCES relay_messages (msg_id) ON DELETE CASCADE,
      destination     text NOT NULL,
      name            text NOT NULL,
      received_at     bigint NOT NULL,
      state           text NOT NULL,
      attempts        integer NOT NULL,
      next_attempt_at bigint NOT NULL,
      updated_at      bigint NOT NULL,
      status_reason   text,
      history         jsonb NOT NULL DEFAULT '[]',
      -- Bumped by every write: a lease's token is the version it wrote, so any later write
      -- (another lease, an operator's replay) makes a stale lease's complete() miss.
      version         bigint NOT NULL,
      PRIMARY KEY (msg_id, destination)
    );
    -- The due-records query: only open deliveries are indexed, so the index stays as small as the
    -- backlog however many millions of finished rows the table holds.
    CREATE INDEX relay_deliveries_due ON relay_deliveries (destination, next_attempt_at, msg_id)
      WHERE state IN ('pending', 'leased', 'temporary_failure');

    -- Fan-out dedupe: one live owner per (destination, event key), shared by every replica.
    CREATE TABLE relay_dedupe (
      destination text NOT NULL,
      event_key   text NOT NULL,
      msg_id      text NOT NULL,
      claimed_at  bigint NOT NULL,
      expires_at  bigint NOT NULL,
      PRIMARY KEY (destination, event_key)
    );
    CREATE INDEX relay_dedupe_expires_at ON relay_dedupe (expires_at);
  `,
}, {
  version: 2,
  name: "admin",
  sql: `
    -- The notification name as normalizeName() spells it, written by accept, so that the admin
    -- API's event filter is an index lookup. Older rows get SQL's version of it (the same for ASCII
    -- names, which Coder's are).
    ALTER TABLE relay_messages ADD COLUMN name_key text;
    UPDATE relay_messages SET name_key = lower(regexp_replace(btrim(name), '\\s+', ' ', 'g'));
    ALTER TABLE relay_messages ALTER COLUMN name_key SET NOT NULL;

    -- Listing newest first in keyset pages: (received_at, msg_id) is the cursor, in the database's
    -- collation (one order for every replica). The time index also serves the retention purge, so
    -- it replaces the plain one.
    DROP INDEX relay_messages_received_at;
    CREATE INDEX relay_messages_by_time ON relay_messages (received_at, msg_id);
    CREATE INDEX relay_messages_by_name
      ON relay_messages (name_key, received_at, msg_id);
    -- Listing by delivery state (optionally to one destination, read from the index) and
    -- re-queueing a destination's given-up deliveries.
    CREATE INDEX relay_deliveries_by_state
      ON relay_deliveries (state, received_at, msg_id, destination);

    -- Destinations defined through the admin API, as the Store hands them over.
    CREATE TABLE relay_subscriptions (
      id         text PRIMARY KEY,
      created_at bigint NOT NULL,
      record     jsonb NOT NULL
    );

    -- Operator switches every replica reads (name 'pause': the PauseState).
    CREATE TABLE relay_settings (
      name  text PRIMARY KEY,
      value jsonb NOT NULL
    );
  `,
}, {
  version: 3,
  name: "closed_by",
  sql: `
    -- Why an open delivery was closed unsent ('deletion': its destination was deleted), as a
    -- column rather than a status_reason wording, so operator retries can leave it alone.
    ALTER TABLE relay_deliveries ADD COLUMN closed_by text;
    UPDATE relay_deliveries SET closed_by = 'deletion'
      WHERE state = 'permanent_failure'
        AND status_reason = 'destination deleted before this delivery was sent';
  `,
}, {
  version: 4,
  name: "stats",
  sql: `
    -- Per-minute delivery counters for the console (see src/store/stats.ts): a day of them is read
    -- per overview, never the messages.
    CREATE TABLE relay_stats (
      minute      bigint NOT NULL,
      destination text NOT NULL,
      field       text NOT NULL,
      n           bigint NOT NULL,
      PRIMARY KEY (minute, destination, field)
    );
  `,
}];

/** Any fixed number: the advisory lock that serializes migrations across replicas. */
const MIGRATION_LOCK = 0x636f646572; // "coder"

/** Applies the migrations this database lacks, in one transaction; returns the versions applied. */
export async function migrate(
  sql: Sql,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`
      CREATE TABLE IF NOT EXISTS relay_schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
    const done = new Set(
      (await tx<{ version: number }[]>`SELECT version FROM relay_schema_migrations`)
        .map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO relay_schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      applied.push(m.version);
    }
    return applied;
  });
}

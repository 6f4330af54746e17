/**
 * PostgreSQL settings and subscriptions: the pause switches and destination health (one JSON row
 * in `relay_settings`, updated under its row lock so every replica's switches are ordered) and the
 * admin API's destinations (`relay_subscriptions`).
 *
 * @module
 */
import type postgres from "postgres";
import type { Sql } from "postgres";
import {
  type DestinationHold,
  markDisabled,
  NOT_PAUSED,
  type PauseState,
  type Settings,
  type SubscriptionRecord,
  type Subscriptions,
  switchPause,
} from "./store.ts";

/** The settings and subscription roles of a PostgreSQL store on `sql`. */
export function createPgSettings(
  sql: Sql,
): Settings & Omit<Subscriptions, "closeDeliveries"> {
  async function getPause(): Promise<PauseState> {
    const [row] = await sql<{ value: PauseState }[]>`
      SELECT value FROM relay_settings WHERE name = 'pause'`;
    return row?.value ?? NOT_PAUSED;
  }

  async function updateSettings(change: (state: PauseState) => PauseState): Promise<PauseState> {
    const json = (p: PauseState) => sql.json(p as unknown as postgres.JSONValue);
    return await sql.begin(async (tx) => {
      // The first switch creates the row; its lock then orders the switches of every replica.
      await tx`
        INSERT INTO relay_settings (name, value) VALUES ('pause', ${json(NOT_PAUSED)})
        ON CONFLICT (name) DO NOTHING`;
      const [row] = await tx<{ value: PauseState }[]>`
        SELECT value FROM relay_settings WHERE name = 'pause' FOR UPDATE`;
      const next = change(row.value);
      await tx`UPDATE relay_settings SET value = ${json(next)} WHERE name = 'pause'`;
      return next;
    });
  }

  function setPause(destination: string | undefined, paused: boolean, now: number) {
    return updateSettings((s) => switchPause(s, destination, paused, now));
  }

  function setDisabled(destination: string, hold: DestinationHold | null, now: number) {
    return updateSettings((s) => markDisabled(s, destination, hold, now));
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

  return {
    getPause,
    setPause,
    setDisabled,
    listSubscriptions,
    getSubscription,
    putSubscription,
    deleteSubscription,
  };
}

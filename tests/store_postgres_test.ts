import assert from "node:assert/strict";
import postgres from "postgres";
import { migrate, MIGRATIONS } from "../src/store/pg_schema.ts";
import { openPostgresStore, redactUrl } from "../src/store/postgres.ts";
import { OPEN_STATES_SQL, type Store, StoreUnavailableError } from "../src/store/store.ts";
import { freePort } from "./helpers/stubs.ts";
import { createTestSchema, TEST_POSTGRES_URL } from "./helpers/postgres.ts";
import { checkReopen, storeContract } from "./store_contract.ts";
import { storeAdminContract } from "./store_admin_contract.ts";

const POOL = { poolSize: 3 };

/** A TCP proxy to the database on `port` (0: any): closing it is the database going away. */
function startProxy(port: number, target: Deno.ConnectOptions) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const pipes: Promise<unknown>[] = [];
  const accepting = (async () => {
    for await (const client of listener) {
      const server = await Deno.connect(target);
      conns.add(client).add(server);
      pipes.push(
        client.readable.pipeTo(server.writable).catch(() => {}),
        server.readable.pipeTo(client.writable).catch(() => {}),
      );
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed by its pipe */ }
      }
      await accepting;
      await Promise.all(pipes);
    },
  };
}

Deno.test("postgres: URLs in messages never show the password", () => {
  assert.equal(
    redactUrl("postgres://relay:s3cr%40t@db:5432/relay"),
    "postgres://relay:***@db:5432/relay",
  );
  assert.equal(redactUrl("postgresql://db/relay"), "postgresql://db/relay");
});

Deno.test("postgres: an unreachable database fails start-up with a clear, redacted error", async () => {
  const url = `postgres://relay:hunter2@127.0.0.1:${freePort()}/relay`;
  const err = await openPostgresStore(url, POOL).then(() => undefined, (e) => e);
  assert.ok(err instanceof StoreUnavailableError, String(err));
  assert.match(err.message, /cannot prepare the PostgreSQL store at postgres:\/\/relay:\*\*\*@127/);
  assert.ok(!err.message.includes("hunter2"));
});

if (!TEST_POSTGRES_URL) {
  Deno.test("postgres: store contract", () => {
    console.log(
      "skipped the Postgres contract: RELAY_TEST_POSTGRES_URL not set " +
        "(scripts/pg-test-cluster.sh start prints one)",
    );
  });
} else {
  const baseUrl = TEST_POSTGRES_URL;

  /** Inserts messages `m1`…`mN` (received at 1…n), each with a delivery: every `openEvery`-th
   * pending, the rest sent. */
  const seed = async (sql: postgres.Sql, n: number, openEvery = 1) => {
    await sql`
      INSERT INTO relay_messages (msg_id, received_at, name, size, body, name_key)
      SELECT 'm' || i, i, 'Workspace Created', 0, '', 'workspace created'
      FROM generate_series(1, ${n}::int) i`;
    await sql`
      INSERT INTO relay_deliveries (msg_id, destination, name, received_at, state, attempts,
        next_attempt_at, updated_at, version)
      SELECT 'm' || i, 'px', 'Workspace Created', i,
        CASE WHEN i % ${openEvery}::int = 0 THEN 'pending' ELSE 'sent' END, 0, i, i, 1
      FROM generate_series(1, ${n}::int) i`;
  };

  storeContract("postgres", async () => {
    const schema = await createTestSchema(baseUrl);
    const handles: Store[] = [await openPostgresStore(schema.url, POOL)];
    return {
      store: handles[0],
      async another() {
        const s = await openPostgresStore(schema.url, POOL);
        handles.push(s);
        return s;
      },
      async [Symbol.asyncDispose]() {
        for (const s of handles) await s.close();
        await schema[Symbol.asyncDispose]();
      },
    };
  });

  storeAdminContract("postgres", async () => {
    const schema = await createTestSchema(baseUrl);
    const store = await openPostgresStore(schema.url, POOL);
    return {
      ...store,
      async close() {
        await store.close();
        await schema[Symbol.asyncDispose]();
      },
    };
  });

  Deno.test("postgres: replicas starting at once migrate once; data survives reopen", async () => {
    await using schema = await createTestSchema(baseUrl);
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(schema.url, POOL)));
    await stores[0].close();
    await stores[2].close();
    await checkReopen(stores[1], () => openPostgresStore(schema.url, POOL));

    const sql = postgres(schema.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`SELECT version FROM relay_schema_migrations ORDER BY version`;
      assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
      assert.deepEqual(await migrate(sql), [], "nothing left to apply");
    } finally {
      await sql.end();
    }
  });

  Deno.test("postgres: database gone: accept fails as unavailable (503), works again when it is back", async () => {
    await using schema = await createTestSchema(baseUrl);
    const db = new URL(baseUrl);
    let proxy = startProxy(0, { hostname: db.hostname, port: Number(db.port || 5432) });
    const url = new URL(schema.url);
    url.port = String(proxy.port);
    const store = await openPostgresStore(url.href, POOL);
    try {
      const message = (msgId: string) => ({
        msgId,
        receivedAt: 1000,
        name: "Workspace Created",
        body: new TextEncoder().encode("{}"),
        destinations: [{ id: "px" }],
        dedupeWindowMs: 0,
      });
      assert.equal((await store.accept(message("before"))).status, "created");
      await proxy.close();
      await assert.rejects(store.accept(message("during")), StoreUnavailableError);
      await assert.rejects(store.ping());
      proxy = startProxy(proxy.port, { hostname: db.hostname, port: Number(db.port || 5432) });
      await store.ping();
      assert.equal((await store.accept(message("during"))).status, "created");
      assert.equal((await store.getMessage("before"))?.deliveries.length, 1);
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  Deno.test("postgres: purge works through more rows than one batch deletes", async () => {
    await using schema = await createTestSchema(baseUrl);
    const store = await openPostgresStore(schema.url, POOL);
    const sql = postgres(schema.url, { max: 1, onnotice: () => {} });
    try {
      await seed(sql, 2600, 1_000_000); // all sent: only finished messages are purged
      await sql`
        INSERT INTO relay_dedupe (destination, event_key, msg_id, claimed_at, expires_at)
        SELECT 'px', 'k' || i, 'm' || i, i, i + 10 FROM generate_series(1, 2600) i`;
      assert.equal(await store.purge(2501), 2500);
      const [left] = await sql`
        SELECT (SELECT count(*)::int FROM relay_messages) AS messages,
          (SELECT count(*)::int FROM relay_deliveries) AS deliveries,
          (SELECT count(*)::int FROM relay_dedupe) AS dedupe`;
      assert.deepEqual({ ...left }, { messages: 100, deliveries: 100, dedupe: 110 });
    } finally {
      await sql.end();
      await store.close();
    }
  });

  Deno.test("postgres: the due query and the listing by state use their indexes, not a scan", async () => {
    await using schema = await createTestSchema(baseUrl);
    const store = await openPostgresStore(schema.url, POOL);
    await store.close();
    const sql = postgres(schema.url, { max: 1, onnotice: () => {} });
    try {
      // Many finished rows and a few open ones, as in a long-running relay.
      await seed(sql, 20_000, 1000);
      await sql`ANALYZE`;
      const plan = (await sql.unsafe(`
        EXPLAIN SELECT msg_id FROM relay_deliveries
        WHERE destination = 'px' AND next_attempt_at <= 30000
          AND state IN ${OPEN_STATES_SQL}
        ORDER BY next_attempt_at, msg_id LIMIT 10 FOR UPDATE SKIP LOCKED`))
        .map((r) => r["QUERY PLAN"]).join("\n");
      assert.match(plan, /relay_deliveries_due/, plan);
      assert.doesNotMatch(plan, /Seq Scan/, plan);
      // The admin API's listing by state (a keyset page, as listMessages builds it) reads its index
      // in order: no sort of every matching row.
      const listing = (await sql.unsafe(`
        EXPLAIN SELECT DISTINCT x.received_at, x.msg_id
        FROM relay_deliveries x JOIN relay_messages m ON m.msg_id = x.msg_id
        WHERE x.state = 'pending' AND (x.received_at, x.msg_id) < (15000, 'm15000')
        ORDER BY x.received_at DESC, x.msg_id DESC LIMIT 51`))
        .map((r) => r["QUERY PLAN"]).join("\n");
      assert.match(listing, /Index (Only )?Scan Backward using relay_deliveries_by_state/, listing);
      assert.doesNotMatch(listing, /Seq Scan|Sort/, listing);
    } finally {
      await sql.end();
    }
  });
}

import assert from "node:assert/strict";
import { openPostgresStore } from "../src/store/postgres.ts";
import { adminCall, adminConfig } from "./helpers/admin.ts";
import { runMain } from "./helpers/cli.ts";
import { createTestSchema, TEST_POSTGRES_URL } from "./helpers/postgres.ts";
import {
  golden,
  sleep,
  startRelay,
  startStub,
  waitForDelivery,
  workspaceData,
} from "./helpers/stubs.ts";

if (!TEST_POSTGRES_URL) {
  Deno.test("admin API on PostgreSQL", () => {
    console.log("skipped the Postgres admin API test: RELAY_TEST_POSTGRES_URL not set");
  });
} else {
  const baseUrl = TEST_POSTGRES_URL;

  Deno.test("admin API on PostgreSQL, two replicas: list a failed delivery, pause on one, replay on the other, delivered once on resume", async () => {
    await using schema = await createTestSchema(baseUrl);
    let healthy = false;
    let delivered = 0;
    await using px = startStub(() => {
      if (!healthy) return new Response("down", { status: 503 });
      delivered++;
      return Response.json({ ok: true });
    });
    const config = adminConfig({ GETDX_API_URL: px.url, RELAY_MAX_ATTEMPTS: "2" });
    const replica = async () =>
      startRelay(config, { store: await openPostgresStore(schema.url, { poolSize: 2 }) });
    await using a = await replica();
    await using b = await replica();

    const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
    assert.equal((await a.post(env)).status, 202);
    await waitForDelivery(a.app.store, env.msg_id, "permanent_failure");
    assert.equal(px.seen.length, 2);

    const failed = await adminCall(b.url, "GET", "/api/v1/messages?state=permanent_failure");
    assert.equal(failed.status, 200);
    assert.deepEqual(failed.json.messages.map((m: { msg_id: string }) => m.msg_id), [env.msg_id]);
    assert.equal(failed.json.messages[0].deliveries[0].state, "permanent_failure");
    assert.equal(failed.json.next_cursor, null);

    // A pause set through one replica holds the other's worker too: it lives in the database,
    // and every worker reads it again at least once per poll (RELAY_POLL_MS, 20 ms here).
    assert.equal((await adminCall(a.url, "POST", "/api/v1/pause")).json.paused, true);
    assert.equal((await adminCall(b.url, "GET", "/api/v1/pause")).json.paused, true);
    await sleep(200);
    healthy = true;
    const retry = await adminCall(b.url, "POST", `/api/v1/messages/${env.msg_id}/retry`, {});
    assert.equal(retry.status, 200);
    assert.equal(retry.json.requeued.length, 1);
    assert.equal(retry.json.requeued[0].state, "pending");
    await sleep(500);
    assert.equal(delivered, 0, "nothing leaves either replica while paused");
    const held = await adminCall(a.url, "GET", "/api/v1/messages?state=pending");
    assert.deepEqual(held.json.messages.map((m: { msg_id: string }) => m.msg_id), [env.msg_id]);

    assert.equal((await adminCall(b.url, "POST", "/api/v1/resume")).json.paused, false);
    const d = await waitForDelivery(b.app.store, env.msg_id, "sent");
    assert.equal(d.attempts, 1, "attempts start over on a replay");
    assert.deepEqual(d.history.map((h) => h.status), [503, 503, 200], "history is kept");
    await sleep(200);
    assert.equal(delivered, 1, "delivered once by the two replicas together");
    const again = await adminCall(a.url, "POST", `/api/v1/messages/${env.msg_id}/retry`);
    assert.equal(again.status, 409, "a sent delivery is not replayed");
  });

  Deno.test("CLI on PostgreSQL: messages list --state and retry work on the database", async () => {
    await using schema = await createTestSchema(baseUrl);
    const store = await openPostgresStore(schema.url, { poolSize: 1 });
    const dir = await Deno.makeTempDir();
    try {
      const msgId = crypto.randomUUID();
      await store.accept({
        msgId,
        receivedAt: 1000,
        name: "Workspace Created",
        body: new TextEncoder().encode("{}"),
        destinations: [{ id: "platformx" }],
        dedupeWindowMs: 0,
      });
      const [l] = await store.lease("platformx", 1000, 1, 60_000);
      assert.ok(
        await store.complete(l, {
          state: "permanent_failure",
          at: 1100,
          latencyMs: 5,
          status: 422,
        }),
      );
      const env = { GETDX_API_KEY: "k", RELAY_STORE: schema.url };
      const list = await runMain(
        ["messages", "list", "--state", "permanent_failure", "--json"],
        env,
        dir,
      );
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(
        JSON.parse(list.stdout).messages.map((m: { msg_id: string }) => m.msg_id),
        [msgId],
      );
      const retry = await runMain(["messages", "retry", msgId, "--json"], env, dir);
      assert.equal(retry.code, 0, retry.stderr);
      const retried = JSON.parse(retry.stdout);
      assert.equal(retried.msg_id, msgId);
      assert.deepEqual(retried.requeued.map((d: { destination: string }) => d.destination), [
        "platformx",
      ]);
      assert.equal((await store.getMessage(msgId))?.deliveries[0].state, "pending");
    } finally {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

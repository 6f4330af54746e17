import assert from "node:assert/strict";
import {
  golden,
  sleep,
  startRelay,
  startStub,
  testConfig,
  waitFor,
  waitForDelivery,
  workspaceData,
} from "./helpers/stubs.ts";

Deno.test("outage: a destination failing in a row is paused, not tried for every message", async () => {
  let up = false;
  await using px = startStub(() =>
    up ? Response.json({ ok: true }) : new Response("maintenance", { status: 503 })
  );
  await using relay = await startRelay(
    testConfig({
      GETDX_API_URL: px.url,
      RELAY_RETRY_MIN_MS: "1500",
      RELAY_RETRY_MAX_MS: "3000",
      RELAY_POLL_MS: "50",
    }),
  );
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    // A different owner each: twenty events, not fan-out copies of one.
    const data = workspaceData(`owner-${i}@example.com`);
    const owner = { ...data.owner, id: `owner-${i}`, name: `owner-${i}` };
    const env = await golden("TemplateWorkspaceCreated.json", { data: { ...data, owner } });
    assert.equal((await relay.post(env)).status, 202);
    ids.push(env.msg_id);
  }
  await waitFor(
    () => relay.app.worker.retryAfterPauses().has("platformx"),
    5000,
    "platformx to be paused",
  );
  await sleep(500);
  // Three failures in a row pause it; at most the sends already in flight follow.
  assert.ok(px.seen.length <= 3 + 4, `${px.seen.length} attempts while PlatformX was down`);
  up = true;
  for (const id of ids) await waitForDelivery(relay.app.store, id, "sent", "platformx", 10_000);
  assert.equal(relay.app.worker.retryAfterPauses().has("platformx"), false);
});

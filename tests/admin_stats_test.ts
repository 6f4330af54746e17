import assert from "node:assert/strict";
import { adminCall, adminConfig } from "./helpers/admin.ts";
import { postWorkspaceCreated } from "./helpers/console.ts";
import { startRelay, startStub } from "./helpers/stubs.ts";

Deno.test("GET /api/v1/stats: sent and failed per destination, latency, per-minute series, state", async () => {
  let fail = false;
  await using px = startStub(() =>
    fail ? new Response("bad", { status: 400 }) : Response.json({ ok: true })
  );
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  await postWorkspaceCreated(relay, "sent");
  fail = true;
  await postWorkspaceCreated(relay, "permanent_failure", "other");

  const res = await adminCall(relay.url, "GET", "/api/v1/stats");
  assert.equal(res.status, 200);
  const px1 = res.json.destinations.find((d: { id: string }) => d.id === "platformx");
  assert.equal(px1.state, "enabled");
  assert.deepEqual(px1.last_hour, { sent: 1, failed: 1, retried: 0 });
  assert.deepEqual(px1.last_day, { sent: 1, failed: 1, retried: 0 });
  assert.equal(px1.queue_depth, 0);
  assert.equal(typeof px1.latency_ms.p50, "number");
  assert.equal(res.json.window_minutes, 1440);
  const total = res.json.minutes.reduce(
    (n: number, m: { sent: number; failed: number }) => n + m.sent + m.failed,
    0,
  );
  assert.equal(total, 2);

  await adminCall(relay.url, "POST", "/api/v1/pause", { destination: "platformx" });
  const paused = await adminCall(relay.url, "GET", "/api/v1/stats?minutes=60");
  assert.equal(paused.json.destinations[0].state, "paused");
  assert.equal(paused.json.destinations[0].reason, "paused by an operator");
  const bad = await adminCall(relay.url, "GET", "/api/v1/stats?minutes=0");
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, "invalid_query");
});

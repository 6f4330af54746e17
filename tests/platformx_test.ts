import assert from "node:assert/strict";
import { METADATA_MAX_BYTES, toPlatformXEvent } from "../src/sinks/platformx.ts";
import {
  golden,
  sequence,
  sleep,
  startRelay,
  startStub,
  testConfig,
  userData,
  waitFor,
  waitForDelivery,
  workspaceData,
} from "./helpers/stubs.ts";

const ok = () => Response.json({ ok: true });

Deno.test("transform: subject email, first-receipt time, bounded metadata without secrets", async () => {
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  const event = toPlatformXEvent(env, 1_700_000_000_999, "owner@example.com");
  assert.equal(event.name, "Workspace Created");
  assert.equal(event.timestamp, "1700000000");
  assert.equal(event.email, "owner@example.com");
  assert.equal(event.metadata.workspace, "bobby-workspace");
  assert.equal(event.metadata.template, "bobby-template");
  assert.equal(event.metadata.template_version, "alpha");
  const text = JSON.stringify(event.metadata);
  assert.ok(!text.includes("hunter2"), "build parameters must never be forwarded");
  assert.ok(!text.includes("bobby@coder.com"), "recipient email must not be forwarded");
  assert.ok(new TextEncoder().encode(text).byteLength <= METADATA_MAX_BYTES);
});

Deno.test("transform: huge labels are clipped and dropped to stay within 1 KB", async () => {
  const labels: Record<string, string> = {};
  for (let i = 0; i < 40; i++) labels[`label_${String(i).padStart(2, "0")}`] = "x".repeat(500);
  const env = await golden("TemplateWorkspaceCreated.json", { labels, data: workspaceData() });
  const event = toPlatformXEvent(env, Date.now(), "owner@example.com");
  const size = new TextEncoder().encode(JSON.stringify(event.metadata)).byteLength;
  assert.ok(size <= METADATA_MAX_BYTES, `metadata is ${size} bytes`);
  assert.ok((event.metadata.labels_dropped as number) > 0);
  assert.ok(Object.keys(event.metadata.labels as object).length > 0);
});

Deno.test("happy path: one POST with bearer key, subject email and 202 to Coder", async () => {
  await using px = startStub(ok);
  await using relay = await startRelay(testConfig({ GETDX_API_URL: px.url }));
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  const before = Math.floor(Date.now() / 1000);
  const res = await relay.post(env, { headers: { "x-message-id": env.msg_id } });
  assert.equal(res.status, 202);
  await waitFor(() => px.seen.length === 1, 5000, "PlatformX event");
  const [req] = px.seen;
  assert.equal(req.path, "/events.track");
  assert.equal(req.headers.get("authorization"), "Bearer test-key");
  const body = JSON.parse(req.body);
  assert.equal(body.name, "Workspace Created");
  assert.equal(body.email, "owner@example.com");
  assert.ok(Number(body.timestamp) >= before && Number(body.timestamp) <= before + 2);
  await waitForDelivery(relay.app.store, env.msg_id, "sent");
});

Deno.test("422 from PlatformX is a permanent failure with its reason, not retried", async () => {
  await using px = startStub(() =>
    Response.json({ ok: false, error: "invalid email" }, { status: 422 })
  );
  await using relay = await startRelay(testConfig({ GETDX_API_URL: px.url }));
  const env = await golden("TemplateUserAccountCreated.json", { data: userData() });
  assert.equal((await relay.post(env)).status, 202);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "permanent_failure");
  assert.match(d.statusReason ?? "", /HTTP 422.*invalid email/);
  await sleep(150);
  assert.equal(px.seen.length, 1);
});

Deno.test("500 then 200: retried with backoff, exactly one event lands", async () => {
  let accepted = 0;
  await using px = startStub(sequence(
    () => new Response("boom", { status: 500 }),
    () => new Response("still boom", { status: 502 }),
    () => {
      accepted++;
      return ok();
    },
  ));
  await using relay = await startRelay(testConfig({ GETDX_API_URL: px.url }));
  const env = await golden("TemplateUserAccountSuspended.json", { data: userData() });
  assert.equal((await relay.post(env)).status, 202);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "sent");
  assert.equal(d.attempts, 3);
  assert.deepEqual(d.history.map((h) => h.status), [500, 502, 200]);
  assert.equal(accepted, 1);
  const timestamps = new Set(px.seen.map((s) => JSON.parse(s.body).timestamp));
  assert.equal(timestamps.size, 1, "every retry carries the first-receipt time");
  await sleep(150);
  assert.equal(px.seen.length, 3);
});

Deno.test("429 with Retry-After: the relay waits at least that long before trying again", async () => {
  await using px = startStub(sequence(
    () => new Response("slow down", { status: 429, headers: { "retry-after": "1" } }),
    ok,
  ));
  await using relay = await startRelay(testConfig({ GETDX_API_URL: px.url }));
  const env = await golden("TemplateUserAccountActivated.json", { data: userData() });
  assert.equal((await relay.post(env)).status, 202);
  await waitFor(() => px.seen.length === 2, 5000, "second attempt");
  const gap = px.seen[1].at - px.seen[0].at;
  assert.ok(gap >= 950, `retried after ${gap} ms, Retry-After said 1000`);
});

Deno.test("PlatformX down at accept time: 202 now, delivered once it comes up", async () => {
  // Reserve a port, close it: connections are refused until the stub starts there.
  const probe = startStub();
  const port = probe.port;
  await probe.close();
  await using relay = await startRelay(
    testConfig({ GETDX_API_URL: `http://127.0.0.1:${port}` }),
  );
  const env = await golden("TemplateWorkspaceManuallyUpdated.json", { data: workspaceData() });
  assert.equal((await relay.post(env)).status, 202);
  await waitForDelivery(relay.app.store, env.msg_id, "temporary_failure");
  await using px = startStub(ok, port);
  await waitFor(() => px.seen.length === 1, 5000, "delivery after PlatformX came up");
  await sleep(150);
  assert.equal(px.seen.length, 1);
});

Deno.test("401 from PlatformX: permanent, with a reason that names the key", async () => {
  await using px = startStub(() => new Response("bad token", { status: 401 }));
  await using relay = await startRelay(testConfig({ GETDX_API_URL: px.url }));
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  await relay.post(env);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "permanent_failure");
  assert.match(d.statusReason ?? "", /GETDX_API_KEY/);
});

Deno.test("a lost answer is recorded as unknown and never resent", async () => {
  await using px = startStub(async () => {
    await sleep(600);
    return ok();
  });
  await using relay = await startRelay(
    testConfig({ GETDX_API_URL: px.url, RELAY_SEND_TIMEOUT_MS: "200" }),
  );
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  await relay.post(env);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "unknown");
  assert.match(d.statusReason ?? "", /not repeated/);
  await sleep(700);
  assert.equal(px.seen.length, 1);
});

Deno.test("gives up after RELAY_MAX_ATTEMPTS with the last reason", async () => {
  await using px = startStub(() => new Response("down", { status: 503 }));
  await using relay = await startRelay(
    testConfig({ GETDX_API_URL: px.url, RELAY_MAX_ATTEMPTS: "3" }),
  );
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  await relay.post(env);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "permanent_failure");
  assert.equal(d.attempts, 3);
  assert.match(d.statusReason ?? "", /gave up after 3 attempts: PlatformX answered HTTP 503/);
});

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import {
  golden,
  type Seen,
  sequence,
  sleep,
  startRelay,
  startStub,
  testConfig,
  waitFor,
  waitForDelivery,
  withConfigFile,
  workspaceData,
} from "./helpers/stubs.ts";

// 32 random bytes, base64: the shape Standard Webhooks libraries generate.
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** Verifies a Standard Webhooks signature independently of the relay's own code (node:crypto). */
function verify(req: Seen, secret = SECRET) {
  const id = req.headers.get("webhook-id");
  const ts = req.headers.get("webhook-timestamp");
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${ts}.${req.body}`).digest("base64");
  return req.headers.get("webhook-signature") === `v1,${expected}`;
}

function webhookConfig(url: string, env: Record<string, string> = {}) {
  return testConfig({
    WEBHOOK_URL: url,
    WEBHOOK_SECRET: SECRET,
    GETDX_API_KEY: "",
    EVENTS_TRACKED: "no such event",
    ...env,
  });
}

Deno.test("webhook: the Coder envelope, signed per Standard Webhooks, without build parameters", async () => {
  await using receiver = startStub(() => new Response(null, { status: 204 }));
  await using relay = await startRelay(webhookConfig(`${receiver.url}/hooks/coder/`));
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  const before = Math.floor(Date.now() / 1000);
  assert.equal((await relay.post(env)).status, 202);
  await waitForDelivery(relay.app.store, env.msg_id, "sent", "webhook");
  const [req] = receiver.seen;
  assert.equal(req.path, "/hooks/coder/", "the URL is used exactly as configured");
  assert.equal(req.headers.get("content-type"), "application/json");
  assert.equal(req.headers.get("webhook-id"), env.msg_id);
  const ts = Number(req.headers.get("webhook-timestamp"));
  assert.ok(ts >= before && ts <= before + 5);
  assert.ok(verify(req), "signature verifies with the whsec_ secret");
  assert.ok(!verify(req, "whsec_" + btoa("another secret, 24 bytes")), "and not with another");
  const body = JSON.parse(req.body);
  assert.equal(body.msg_id, env.msg_id);
  assert.equal(body.payload.notification_name, "Workspace Created");
  assert.equal(body.payload.data.owner.email, "owner@example.com");
  assert.equal(body.payload.data.parameters, undefined, "build parameters may hold secrets");
  assert.ok(!req.body.includes("hunter2"));
});

Deno.test("webhook: every recipient's copy is delivered (no fan-out dedupe by default)", async () => {
  await using receiver = startStub(() => new Response("ok"));
  await using relay = await startRelay(webhookConfig(receiver.url));
  for (const email of ["a@coder.com", "b@coder.com"]) {
    const env = await golden("TemplateWorkspaceDeleted.json", { user_email: email });
    assert.equal((await relay.post(env)).status, 202);
  }
  await waitFor(() => receiver.seen.length === 2, 5000, "two deliveries");
  const ids = receiver.seen.map((r) => r.headers.get("webhook-id"));
  assert.notEqual(ids[0], ids[1]);
});

Deno.test("webhook: non-2xx answers are retried, including 4xx, until a 2xx", async () => {
  await using receiver = startStub(sequence(
    () => new Response("bad", { status: 400 }),
    () => new Response("boom", { status: 500 }),
    () => new Response("ok", { status: 200 }),
  ));
  await using relay = await startRelay(webhookConfig(receiver.url));
  const env = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(env)).status, 202);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "sent", "webhook");
  assert.equal(d.attempts, 3);
  assert.deepEqual(d.history.map((h) => h.status), [400, 500, 200]);
  assert.equal(new Set(receiver.seen.map((r) => r.headers.get("webhook-id"))).size, 1);
  assert.ok(receiver.seen.every((r) => verify(r)), "every attempt is signed afresh");
});

Deno.test("webhook: 410 Gone disables the destination; new messages are held for it, not sent", async () => {
  await using receiver = startStub(() => new Response("gone", { status: 410 }));
  await using px = startStub(() => Response.json({ ok: true }));
  await using relay = await startRelay(webhookConfig(receiver.url, {
    GETDX_API_URL: px.url,
    GETDX_API_KEY: "k",
    EVENTS_TRACKED: "*",
  }));
  const env = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(env)).status, 202);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "permanent_failure", "webhook");
  assert.match(d.statusReason ?? "", /410/);
  assert.equal(d.attempts, 1);
  await waitFor(async () => (await relay.app.store.getPause()).disabled?.webhook, 2000, "disable");

  const next = await golden("TemplateWorkspaceDormant.json");
  const res = await relay.post(next);
  assert.equal(res.status, 202);
  assert.deepEqual(
    (res.json.deliveries as { destination: string }[]).map((x) => x.destination).sort(),
    ["platformx", "webhook"],
  );
  await waitForDelivery(relay.app.store, next.msg_id, "sent", "platformx");
  await sleep(200);
  assert.equal(receiver.seen.length, 1);
  const held = await relay.app.store.getMessage(next.msg_id);
  assert.equal(held?.deliveries.find((x) => x.destination === "webhook")?.state, "pending");
});

Deno.test("one message, three destinations, one failing: the other two are sent exactly once", async () => {
  await using slack = startStub(() => Response.json({ ok: true }));
  await using px = startStub(() => Response.json({ ok: true }));
  await using receiver = startStub(() => new Response("down", { status: 503 }));
  await using relay = await startRelay(testConfig({
    GETDX_API_URL: px.url,
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_CHANNEL: "C123",
    SLACK_API_URL: slack.url,
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: SECRET,
  }));
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  const res = await relay.post(env);
  assert.equal(res.status, 202);
  assert.deepEqual(
    (res.json.deliveries as { destination: string }[]).map((d) => d.destination).sort(),
    ["platformx", "slack", "webhook"],
  );
  await waitForDelivery(relay.app.store, env.msg_id, "sent", "platformx");
  await waitForDelivery(relay.app.store, env.msg_id, "sent", "slack");
  await waitFor(() => receiver.seen.length >= 3, 5000, "webhook retries");
  // Coder retries the same message: nothing is sent again.
  assert.equal((await relay.post(env)).status, 200);
  await sleep(300);
  assert.equal(px.seen.length, 1);
  assert.equal(slack.seen.length, 1);
  const m = await relay.app.store.getMessage(env.msg_id);
  const hook = m?.deliveries.find((d) => d.destination === "webhook");
  assert.equal(hook?.state, "temporary_failure");
  assert.match(hook?.statusReason ?? "", /HTTP 503/);
});

Deno.test("webhook from RELAY_CONFIG: normalized event format and custom headers", async () => {
  await using receiver = startStub(() => new Response("ok"));
  const file = {
    destinations: [{
      id: "audit",
      type: "webhook",
      events: ["workspace created"],
      configuration: {
        url: `${receiver.url}/audit`,
        secret: SECRET,
        headers: { "x-team": "platform" },
        format: "event",
      },
    }],
  };
  await withConfigFile(file, async (path) => {
    await using relay = await startRelay(
      testConfig({ RELAY_CONFIG: path, GETDX_API_KEY: "", EVENTS_TRACKED: "none" }),
    );
    const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
    const res = await relay.post(env);
    assert.equal(res.status, 202);
    await waitForDelivery(relay.app.store, env.msg_id, "sent", "audit");
    const [req] = receiver.seen;
    assert.equal(req.headers.get("x-team"), "platform");
    assert.ok(verify(req));
    const event = JSON.parse(req.body);
    assert.equal(event.type, "coder.workspace_created");
    assert.ok(Math.abs(Date.parse(event.timestamp) - Date.now()) < 10_000);
    assert.equal(event.data.msg_id, env.msg_id);
    assert.equal(event.data.recipient.email, "bobby@coder.com");
    assert.equal(event.data.data.workspace.name, "bobby-workspace");
    assert.equal(event.data.data.parameters, undefined);
  });
});

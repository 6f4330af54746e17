import assert from "node:assert/strict";
import {
  changedFields,
  parseSubscription,
  patchSubscription,
  subscriptionJson,
} from "../src/admin/subscriptions.ts";
import { createDestinationSet } from "../src/destinations/set.ts";
import { openKvStore } from "../src/store/kv.ts";
import type { SubscriptionRecord } from "../src/store/store.ts";
import { ADMIN_TOKEN, adminCall, adminConfig } from "./helpers/admin.ts";
import {
  golden,
  sleep,
  startRelay,
  startStub,
  waitFor,
  waitForDelivery,
  workspaceData,
} from "./helpers/stubs.ts";

const SECRET = "dx-subscription-key-4f1c9a";

/** A Standard Webhooks secret: `whsec_` and base64. */
const WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

Deno.test("webhooks CRUD round trip: secrets write-only, env destinations read-only", async () => {
  await using envPx = startStub();
  await using subPx = startStub();
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: envPx.url }));
  const created = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "Analytics",
    event_types: ["Workspace Created", "Workspace Teleported"],
    type: "platformx",
    configuration: { api_key: SECRET, api_url: subPx.url },
    organization: "acme",
  });
  assert.equal(created.status, 201);
  const id = created.json.id;
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(created.json.configuration.api_key, "…c9a");
  assert.equal(created.json.organization, "acme");
  assert.equal(created.json.source, "api");
  assert.deepEqual(created.json.warnings, [
    'event_types.1: "Workspace Teleported" is not a notification Coder ships; check the spelling',
  ]);
  assert.ok(!created.text.includes(SECRET));

  const list = await adminCall(relay.url, "GET", "/api/v1/webhooks");
  assert.equal(list.status, 200);
  assert.equal(list.json.count, 2);
  const [env, api] = list.json.results;
  assert.equal(env.id, "platformx");
  assert.equal(env.read_only, true);
  assert.equal(env.source, "env");
  assert.equal(api.id, id);
  assert.ok(!list.text.includes(SECRET));
  assert.ok(!list.text.includes("test-key"), "the env key is not shown either");

  const one = await adminCall(relay.url, "GET", `/api/v1/webhooks/${id}`);
  assert.equal(one.json.name, "Analytics");
  assert.ok(!one.text.includes(SECRET));

  // PATCH without the secret, then PUT with the redacted value: the stored key stays.
  const patched = await adminCall(relay.url, "PATCH", `/api/v1/webhooks/${id}`, {
    name: "Analytics (DX)",
  });
  assert.equal(patched.status, 200);
  assert.equal(patched.json.name, "Analytics (DX)");
  assert.equal(patched.json.configuration.api_key, "…c9a");
  const put = await adminCall(relay.url, "PUT", `/api/v1/webhooks/${id}`, {
    ...one.json,
    event_types: ["Workspace Created"],
  });
  assert.equal(put.status, 200);
  assert.equal(put.json.warnings, undefined);

  // The new destination receives messages with its own key, without a restart.
  const msg = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  assert.equal((await relay.post(msg)).status, 202);
  await waitForDelivery(relay.app.store, msg.msg_id, "sent", id);
  await waitForDelivery(relay.app.store, msg.msg_id, "sent", "platformx");
  assert.equal(subPx.seen.length, 1);
  assert.equal(subPx.seen[0].headers.get("authorization"), `Bearer ${SECRET}`);
  assert.equal(envPx.seen[0].headers.get("authorization"), "Bearer test-key");

  // Environment destinations cannot be changed here.
  for (const method of ["PATCH", "PUT", "DELETE"]) {
    const res = await adminCall(relay.url, method, "/api/v1/webhooks/platformx", { name: "x" });
    assert.equal(res.status, 409, method);
    assert.equal(res.json.error, "read_only");
  }

  assert.equal((await adminCall(relay.url, "DELETE", `/api/v1/webhooks/${id}`)).status, 204);
  assert.equal((await adminCall(relay.url, "GET", `/api/v1/webhooks/${id}`)).status, 404);
  assert.equal((await adminCall(relay.url, "DELETE", `/api/v1/webhooks/${id}`)).status, 404);
  const after = await golden("TemplateWorkspaceCreated.json", {
    data: workspaceData(),
    labels: { n: "2" },
  });
  await relay.post(after);
  await waitForDelivery(relay.app.store, after.msg_id, "sent", "platformx");
  const stored = await relay.app.store.getMessage(after.msg_id);
  assert.deepEqual(stored?.deliveries.map((d) => d.destination), ["platformx"]);
  await sleep(50);
  assert.equal(subPx.seen.length, 1);
});

Deno.test("webhooks validation: field paths on 400, unknown types and fields; every known type accepted", async () => {
  await using relay = await startRelay(adminConfig());
  const post = (body: unknown) => adminCall(relay.url, "POST", "/api/v1/webhooks/", body);

  const empty = await post({});
  assert.equal(empty.status, 400);
  assert.equal(empty.json.error, "invalid_body");
  assert.deepEqual(
    empty.json.details.issues.map((i: { path: string }) => i.path).sort(),
    ["configuration", "event_types", "name", "type"],
  );
  const badType = await post({
    name: "x",
    event_types: ["*"],
    type: "email",
    configuration: {},
  });
  assert.equal(badType.status, 400);
  assert.equal(badType.json.details.issues[0].path, "type");
  assert.match(badType.json.details.issues[0].message, /platformx, slack, slack-webhook, webhook/);

  const slackNoToken = await post({
    name: "ops",
    event_types: ["*"],
    type: "slack",
    configuration: { channel: "#ops", username: "coder" },
  });
  assert.equal(slackNoToken.status, 400);
  assert.deepEqual(slackNoToken.json.details.issues, [
    { path: "configuration.token", message: "is required" },
  ]);
  const typo = await post({
    name: "ops",
    event_types: ["*"],
    type: "platformx",
    configuration: { api_key: "k", apikey: "k" },
  });
  assert.equal(typo.status, 400);
  assert.equal(typo.json.details.issues[0].path, "configuration");
  assert.match(typo.json.details.issues[0].message, /apikey/);
  const badUrl = await post({
    name: "hook",
    event_types: ["*"],
    type: "webhook",
    configuration: { url: "ftp://example.com" },
  });
  assert.equal(badUrl.json.details.issues[0].path, "configuration.url");
  const notJson = await fetch(`${relay.url}/api/v1/webhooks/`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: "{",
  });
  assert.equal(notJson.status, 400);
  await notJson.body?.cancel();

  const badSecret = await post({
    name: "hook",
    event_types: ["*"],
    type: "webhook",
    configuration: { url: "https://hooks.example.com/x", secret: "0123456789abcdef0123" },
  });
  assert.equal(badSecret.status, 400);
  assert.equal(badSecret.json.details.issues[0].path, "configuration.secret");
  const list = await adminCall(relay.url, "GET", "/api/v1/webhooks/");
  assert.equal(list.json.count, 1, "nothing invalid was stored");

  // Every type this build delivers to is accepted.
  for (
    const [type, configuration] of [
      ["slack", { token: "xoxb-1-2-abc", channel: "#ops", username: "coder" }],
      ["slack-webhook", { url: "https://hooks.slack.com/services/T/B/x" }],
      ["webhook", { url: "https://hooks.example.com/x", secret: WHSEC }],
    ] as const
  ) {
    const res = await post({ name: type, event_types: ["*"], type, configuration });
    assert.equal(res.status, 201, `${type}: ${JSON.stringify(res.json)}`);
  }
  const after = await adminCall(relay.url, "GET", "/api/v1/webhooks/");
  assert.equal(after.json.count, 4);

  const patchMissing = await adminCall(relay.url, "PATCH", "/api/v1/webhooks/nope", {});
  assert.equal(patchMissing.status, 404);
});

Deno.test("webhook test endpoint sends a synthetic notification and reports the outcome", async () => {
  await using px = startStub();
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const res = await adminCall(relay.url, "POST", "/api/v1/webhooks/platformx/test", {
    email: "ops@example.com",
  });
  assert.equal(res.status, 200);
  assert.equal(res.json.ok, true);
  assert.equal(res.json.state, "sent");
  assert.equal(res.json.status_code, 200);
  assert.equal(typeof res.json.latency_ms, "number");
  assert.equal(px.seen.length, 1);
  const event = JSON.parse(px.seen[0].body);
  assert.equal(event.name, "Test Notification");
  assert.equal(event.email, "ops@example.com");
  const listed = await adminCall(relay.url, "GET", "/api/v1/messages");
  assert.deepEqual(listed.json.messages, [], "a test send does not go through the store");

  px.handler = () => new Response("bad key", { status: 401 });
  const failed = await adminCall(relay.url, "POST", "/api/v1/webhooks/platformx/test");
  assert.equal(failed.status, 200);
  assert.equal(failed.json.ok, false);
  assert.equal(failed.json.state, "permanent_failure");
  assert.equal(failed.json.status_code, 401);
  assert.match(failed.json.status_reason, /GETDX_API_KEY/);
  const missing = await adminCall(relay.url, "POST", "/api/v1/webhooks/nope/test");
  assert.equal(missing.status, 404);
  const badEmail = await adminCall(relay.url, "POST", "/api/v1/webhooks/platformx/test", {
    email: "not-an-email",
  });
  assert.equal(badEmail.status, 400);
  assert.equal(badEmail.json.details.issues[0].path, "email");
});

Deno.test("a subscription made on one replica is picked up by another sharing the store", async () => {
  await using px = startStub();
  const dir = await Deno.makeTempDir();
  try {
    const config = adminConfig({ GETDX_API_URL: px.url, RELAY_STORE: `${dir}/relay.kv` });
    await using a = await startRelay(config, { subscriptionsRefreshMs: 100 });
    await using b = await startRelay(config, { subscriptionsRefreshMs: 100 });
    const created = await adminCall(a.url, "POST", "/api/v1/webhooks/", {
      name: "second",
      event_types: ["workspace created"],
      type: "platformx",
      configuration: { api_key: SECRET, api_url: `${px.url}/sub` },
    });
    assert.equal(created.status, 201);
    await sleep(150);
    const msg = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
    assert.equal((await b.post(msg)).status, 202);
    await waitFor(
      () => px.seen.some((s) => s.path === "/sub/events.track"),
      10_000,
      "delivery to the subscription",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("secrets round trip: redacted out, kept when sent back redacted or left out", () => {
  const fields = parseSubscription({
    name: "hook",
    event_types: ["*"],
    type: "webhook",
    configuration: {
      url: "https://hooks.example.com/in",
      secret: WHSEC,
      headers: { authorization: "Bearer very-secret-token-xyz" },
    },
  });
  const stored: SubscriptionRecord = { id: "s1", ...fields, createdAt: 1, updatedAt: 1 };
  const shown = subscriptionJson(stored);
  const text = JSON.stringify(shown);
  assert.ok(!text.includes(WHSEC.slice(6, 30)) && !text.includes("very-secret-token"));
  assert.deepEqual(shown.configuration, {
    url: "https://hooks.example.com/in",
    secret: `…${WHSEC.slice(-3)}`,
    headers: { authorization: "…xyz" },
    format: "coder",
    dedupe_fanout: false,
  });
  // PUT of what GET showed: every secret keeps its stored value.
  const put = parseSubscription({ ...shown, name: "hook 2" }, stored);
  assert.deepEqual(put.configuration, stored.configuration);
  assert.equal(put.name, "hook 2");
  // A new value replaces; leaving a secret out of a PATCH keeps it.
  const patched = patchSubscription(
    { configuration: { secret: `whsec_${"A".repeat(32)}` } },
    stored,
  );
  assert.equal(patched.configuration.secret, `whsec_${"A".repeat(32)}`);
  assert.deepEqual(patched.configuration.headers, stored.configuration.headers);
  const removed = patchSubscription({ configuration: { headers: null } }, stored);
  assert.deepEqual(removed.configuration.headers, {}, "removed: back to the default, no headers");
});

Deno.test("env and API PlatformX destinations share one Coder user lookup", async () => {
  await using envPx = startStub();
  await using subPx = startStub();
  await using coder = startStub((req) =>
    Response.json({ email: `${req.path.split("/").pop()}@users.example` })
  );
  await using relay = await startRelay(adminConfig({
    GETDX_API_URL: envPx.url,
    EVENTS_TRACKED: "*",
    CODER_URL: coder.url,
    CODER_SESSION_TOKEN: "coder-token",
  }));
  const created = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "Second PlatformX account",
    event_types: ["*"],
    type: "platformx",
    configuration: { api_key: SECRET, api_url: subPx.url },
  });
  assert.equal(created.status, 201);
  const id = created.json.id as string;
  const env = await golden("TemplateUserAccountDeleted.json");
  assert.equal((await relay.post(env)).status, 202);
  await waitForDelivery(relay.app.store, env.msg_id, "sent");
  await waitForDelivery(relay.app.store, env.msg_id, "sent", id);
  assert.equal(JSON.parse(envPx.seen[0].body).email, "bobby@users.example");
  assert.equal(JSON.parse(subPx.seen[0].body).email, "bobby@users.example");
  assert.equal(coder.seen.length, 1, "one lookup serves both destinations");
});

/** A sink for destination-set tests, which route but never send. */
const unusedSink = () => ({
  idempotent: true,
  dedupeFanout: false,
  allowsSecrets: false,
  send: () => Promise.reject(new Error("not sent in this test")),
});

const SUB_1: SubscriptionRecord = {
  id: "sub-1",
  name: "Analytics",
  type: "webhook",
  eventTypes: ["*"],
  configuration: {},
  enabled: true,
  createdAt: 1,
  updatedAt: 1,
};

Deno.test("reload after a change is not served by a read that began before it", async () => {
  const store = await openKvStore(":memory:");
  const reads: PromiseWithResolvers<void>[] = [];
  const gated = {
    ...store,
    async listSubscriptions() {
      const seen = await store.listSubscriptions();
      const gate = Promise.withResolvers<void>();
      reads.push(gate);
      await gate.promise;
      return seen;
    },
  };
  const set = createDestinationSet({
    configured: [],
    store: gated,
    build: unusedSink,
    now: Date.now,
  });
  try {
    // The worker's periodic read starts, then the admin API stores a subscription and reloads.
    const stale = set.list();
    await waitFor(() => reads.length === 1 || undefined, 1000, "the first read");
    await store.putSubscription(SUB_1);
    const fresh = set.reload();
    const alsoFresh = set.reload();
    assert.equal(reads.length, 1, "the second read waits for the first to finish");
    reads[0].resolve();
    assert.deepEqual(await stale, [], "the read that began first saw no subscription");
    await waitFor(() => reads.length === 2 || undefined, 1000, "the queued read");
    reads[1].resolve();
    assert.deepEqual((await fresh).map((d) => d.id), ["sub-1"]);
    assert.equal(await alsoFresh, await fresh, "callers meanwhile share the queued read");
    assert.equal(reads.length, 2);
    assert.deepEqual((set.list() as readonly { id: string }[]).map((d) => d.id), ["sub-1"]);
  } finally {
    await store.close();
  }
});

/** Subscribes a signed webhook to every event through the API; returns its id. */
async function subscribeWebhook(relayUrl: string, url: string): Promise<string> {
  const created = await adminCall(relayUrl, "POST", "/api/v1/webhooks/", {
    name: "Receiver",
    event_types: ["*"],
    type: "webhook",
    configuration: { url, secret: WHSEC },
  });
  assert.equal(created.status, 201);
  return created.json.id as string;
}

Deno.test("a subscription disabled by 410 Gone is enabled again by editing it", async () => {
  await using old = startStub(() => new Response("gone", { status: 410 }));
  await using moved = startStub();
  await using relay = await startRelay(adminConfig({ GETDX_API_KEY: "" }));
  const id = await subscribeWebhook(relay.url, old.url);
  const first = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(first)).status, 202);
  const gone = await waitForDelivery(relay.app.store, first.msg_id, "permanent_failure", id);
  assert.match(gone.statusReason ?? "", /410 Gone: destination disabled until it is edited/);
  const whileGone = await golden("TemplateWorkspaceDormant.json");
  assert.equal((await relay.post(whileGone)).status, 202, "stored and held for it");
  await waitFor(async () => (await relay.app.store.getPause()).disabled?.[id], 2000, "disable");
  const shown = await adminCall(relay.url, "GET", "/api/v1/pause");
  assert.match(shown.json.disabled_destinations[id].reason, /410 Gone/);

  const edited = await adminCall(relay.url, "PATCH", `/api/v1/webhooks/${id}`, {
    configuration: { url: moved.url },
  });
  assert.equal(edited.status, 200);
  const next = await golden("TemplateWorkspaceAutoUpdated.json");
  assert.equal((await relay.post(next)).status, 202);
  await waitForDelivery(relay.app.store, next.msg_id, "sent", id);
  await waitForDelivery(relay.app.store, whileGone.msg_id, "sent", id);
  assert.equal(moved.seen.length, 2, "the held message too");
  assert.equal(old.seen.length, 1);
});

Deno.test("deleting a subscription closes its queued deliveries; replay skips them", async () => {
  await using down = startStub(() => new Response("down", { status: 503 }));
  await using relay = await startRelay(adminConfig({ GETDX_API_KEY: "" }));
  const id = await subscribeWebhook(relay.url, down.url);
  const env = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(env)).status, 202);
  await waitForDelivery(relay.app.store, env.msg_id, "temporary_failure", id);
  assert.equal((await relay.app.store.queueStats()).get(id)?.depth, 1);

  assert.equal((await adminCall(relay.url, "DELETE", `/api/v1/webhooks/${id}`)).status, 204);
  const shown = await adminCall(relay.url, "GET", `/api/v1/messages/${env.msg_id}`);
  const delivery = shown.json.deliveries.find((d: { destination: string }) => d.destination === id);
  assert.equal(delivery.state, "permanent_failure");
  assert.match(delivery.status_reason, /destination deleted before this delivery was sent/);
  assert.equal((await relay.app.store.queueStats()).has(id), false, "no queue left behind");
  const replay = await adminCall(relay.url, "POST", `/api/v1/messages/${env.msg_id}/retry`, {});
  assert.equal(replay.status, 409, "nothing would deliver it");
});

Deno.test("a subscription deleted by another replica: its queue closes after the next read", async () => {
  const store = await openKvStore(":memory:");
  try {
    await store.putSubscription(SUB_1);
    const sweep = Promise.withResolvers<void>();
    let clock = 50;
    const set = createDestinationSet({
      configured: [],
      store: {
        ...store,
        closeDeliveries: (id, now) => sweep.promise.then(() => store.closeDeliveries(id, now)),
      },
      build: unusedSink,
      now: () => clock,
    });
    assert.deepEqual((await set.reload()).map((d) => d.id), ["sub-1"]);
    await store.accept({
      msgId: "m1",
      receivedAt: 10,
      name: "Workspace Deleted",
      body: new TextEncoder().encode("{}"),
      destinations: [{ id: "sub-1" }],
      dedupeWindowMs: 0,
    });
    assert.equal(await store.deleteSubscription("sub-1"), true, "as another replica does");
    clock = 60_000; // the list is stale: the next webhook reads the store again
    // That read leaves the subscription out and does not wait for its queue to be closed.
    assert.deepEqual(await set.list(), []);
    assert.equal((await store.getMessage("m1"))!.deliveries[0].state, "pending");
    sweep.resolve();
    assert.deepEqual(await set.reload(), [], "reload waits for the closing");
    const [d] = (await store.getMessage("m1"))!.deliveries;
    assert.equal(d.state, "permanent_failure");
    assert.equal(d.updatedAt, 60_000);
  } finally {
    await store.close();
  }
});

Deno.test("an update is logged with the names of the fields it changed, never their values", () => {
  const before = {
    name: "ops",
    type: "webhook",
    eventTypes: ["*"],
    configuration: { url: "https://hooks.example.com/a", secret: "whsec_c2VjcmV0" },
    enabled: true,
  };
  assert.deepEqual(changedFields(before, before), []);
  assert.deepEqual(
    changedFields(before, {
      ...before,
      enabled: false,
      eventTypes: ["Workspace Created"],
      configuration: { url: "https://hooks.example.com/b", secret: "whsec_c2VjcmV0" },
    }),
    ["event_types", "enabled", "configuration.url"],
  );
  assert.deepEqual(
    changedFields(before, { ...before, configuration: { url: before.configuration.url } }),
    ["configuration.secret"],
  );
});

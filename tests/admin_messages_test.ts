import assert from "node:assert/strict";
import { ADMIN_TOKEN, adminCall, adminConfig } from "./helpers/admin.ts";
import {
  golden,
  sleep,
  startRelay,
  startStub,
  testConfig,
  userData,
  waitFor,
  waitForDelivery,
  workspaceData,
} from "./helpers/stubs.ts";

Deno.test("admin auth matrix: disabled without a token, 401 without credentials, 403 when wrong", async () => {
  await using px = startStub();
  {
    await using relay = await startRelay(testConfig({ GETDX_API_URL: px.url }));
    const res = await adminCall(relay.url, "GET", "/api/v1/messages");
    assert.equal(res.status, 403);
    assert.equal(res.json.error, "admin_disabled");
    assert.match(res.json.message, /RELAY_ADMIN_TOKEN/);
  }
  await using relay = await startRelay(
    adminConfig({ GETDX_API_URL: px.url, RELAY_AUTH_TOKEN: "inbound-secret" }),
  );
  for (
    const [method, path] of [
      ["GET", "/api/v1/messages"],
      ["GET", "/api/v1/webhooks/"],
      ["POST", "/api/v1/pause"],
      ["POST", "/api/v1/messages/x/retry"],
    ]
  ) {
    const none = await adminCall(relay.url, method, path, undefined, null);
    assert.equal(none.status, 401, `${method} ${path} without credentials`);
    assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
    const wrong = await adminCall(relay.url, method, path, undefined, "not-the-token");
    assert.equal(wrong.status, 403, `${method} ${path} with a wrong token`);
    const inbound = await adminCall(relay.url, method, path, undefined, "inbound-secret");
    assert.equal(inbound.status, 403, "the inbound webhook token is not an admin token");
  }
  // The token only counts as a bearer header: not as a query parameter, not as Basic.
  const query = await fetch(`${relay.url}/api/v1/messages?token=${ADMIN_TOKEN}`);
  assert.equal(query.status, 401);
  await query.body?.cancel();
  const basic = await fetch(`${relay.url}/api/v1/messages`, {
    headers: { authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` },
  });
  assert.equal(basic.status, 401);
  await basic.body?.cancel();
  const ok = await adminCall(relay.url, "GET", "/api/v1/messages");
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, { messages: [], next_cursor: null });
  const pause = await adminCall(relay.url, "GET", "/api/v1/pause");
  assert.equal(pause.status, 200);
  assert.equal(pause.json.paused, false);
});

Deno.test("messages: filters by state, destination, event and time; cursor pages newest first", async () => {
  await using px = startStub((req) =>
    JSON.parse(req.body).email === "bad@example.com"
      ? Response.json({ ok: false, error: "unknown user" }, { status: 422 })
      : Response.json({ ok: true })
  );
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const good1 = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  const bad = await golden("TemplateUserAccountCreated.json", {
    data: userData("bad@example.com"),
  });
  const good2 = await golden("TemplateUserAccountSuspended.json", { data: userData() });
  const t0 = Date.now();
  for (const env of [good1, bad, good2]) {
    assert.equal((await relay.post(env)).status, 202);
    await sleep(5); // distinct receipt times
  }
  await waitForDelivery(relay.app.store, bad.msg_id, "permanent_failure");
  await waitForDelivery(relay.app.store, good1.msg_id, "sent");
  await waitForDelivery(relay.app.store, good2.msg_id, "sent");

  const failed = await adminCall(relay.url, "GET", "/api/v1/messages?state=permanent_failure");
  assert.equal(failed.status, 200);
  assert.deepEqual(failed.json.messages.map((m: { msg_id: string }) => m.msg_id), [bad.msg_id]);
  const [m] = failed.json.messages;
  assert.equal(m.event, "User account created");
  assert.equal(m.deliveries[0].destination, "platformx");
  assert.equal(m.deliveries[0].state, "permanent_failure");
  assert.match(m.deliveries[0].status_reason, /HTTP 422.*unknown user/);

  const byEvent = await adminCall(
    relay.url,
    "GET",
    `/api/v1/messages?event=${encodeURIComponent("user ACCOUNT suspended")}`,
  );
  assert.deepEqual(byEvent.json.messages.map((x: { msg_id: string }) => x.msg_id), [
    good2.msg_id,
  ]);
  const otherDest = await adminCall(relay.url, "GET", "/api/v1/messages?destination=slack");
  assert.deepEqual(otherDest.json.messages, []);
  const future = await adminCall(
    relay.url,
    "GET",
    `/api/v1/messages?since=${new Date(Date.now() + 60_000).toISOString()}`,
  );
  assert.deepEqual(future.json.messages, []);
  const window = await adminCall(
    relay.url,
    "GET",
    `/api/v1/messages?since=${t0 - 1000}&until=${new Date(Date.now() + 1000).toISOString()}`,
  );
  assert.equal(window.json.messages.length, 3);

  // Pages of one, following the cursor: every message once, newest first.
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { json: { messages: { msg_id: string }[]; next_cursor: string | null } } =
      await adminCall(
        relay.url,
        "GET",
        `/api/v1/messages?limit=1${cursor ? `&cursor=${cursor}` : ""}`,
      );
    seen.push(...page.json.messages.map((x) => x.msg_id));
    cursor = page.json.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, [good2.msg_id, bad.msg_id, good1.msg_id]);

  const badState = await adminCall(relay.url, "GET", "/api/v1/messages?state=lost");
  assert.equal(badState.status, 400);
  assert.equal(badState.json.error, "invalid_query");
  assert.equal(badState.json.details.issues[0].path, "state");
  const badLimit = await adminCall(relay.url, "GET", "/api/v1/messages?limit=0");
  assert.equal(badLimit.status, 400);
  assert.equal(badLimit.json.details.issues[0].path, "limit");
  const badCursor = await adminCall(relay.url, "GET", "/api/v1/messages?cursor=nonsense");
  assert.equal(badCursor.status, 400);
  assert.equal(badCursor.json.error, "invalid_cursor");
});

Deno.test("one message shows every attempt: time, status code, latency, status_reason", async () => {
  let calls = 0;
  await using px = startStub(() =>
    ++calls === 1 ? new Response("boom", { status: 500 }) : Response.json({ ok: true })
  );
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  await relay.post(env);
  await waitForDelivery(relay.app.store, env.msg_id, "sent");
  const res = await adminCall(relay.url, "GET", `/api/v1/messages/${env.msg_id}`);
  assert.equal(res.status, 200);
  assert.equal(res.json.msg_id, env.msg_id);
  assert.equal(res.json.event, "Workspace Created");
  const [d] = res.json.deliveries;
  assert.equal(d.state, "sent");
  assert.equal(d.attempts, 2);
  assert.equal(d.history.length, 2);
  assert.equal(d.history[0].state, "temporary_failure");
  assert.equal(d.history[0].status_code, 500);
  assert.match(d.history[0].status_reason, /HTTP 500: boom/);
  assert.equal(typeof d.history[0].latency_ms, "number");
  assert.ok(!Number.isNaN(Date.parse(d.history[0].at)));
  assert.equal(d.history[1].status_code, 200);
  assert.ok(!res.text.includes("hunter2"), "the message view shows no body");

  const missing = await adminCall(relay.url, "GET", "/api/v1/messages/no-such-message");
  assert.equal(missing.status, 404);
});

Deno.test("replay: a permanently failed delivery is delivered once after the stub recovers", async () => {
  let healthy = false;
  let delivered = 0;
  await using px = startStub(() => {
    if (!healthy) return new Response("down", { status: 503 });
    delivered++;
    return Response.json({ ok: true });
  });
  await using relay = await startRelay(
    adminConfig({ GETDX_API_URL: px.url, RELAY_MAX_ATTEMPTS: "2" }),
  );
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  await relay.post(env);
  await waitForDelivery(relay.app.store, env.msg_id, "permanent_failure");
  assert.equal(px.seen.length, 2);

  healthy = true;
  const retry = await adminCall(relay.url, "POST", `/api/v1/messages/${env.msg_id}/retry`, {});
  assert.equal(retry.status, 200);
  assert.equal(retry.json.requeued.length, 1);
  assert.equal(retry.json.requeued[0].state, "pending");
  const d = await waitForDelivery(relay.app.store, env.msg_id, "sent");
  assert.equal(d.attempts, 1, "attempts start over on a replay");
  assert.deepEqual(d.history.map((h) => h.status), [503, 503, 200], "history is kept");
  await sleep(200);
  assert.equal(delivered, 1);
  assert.equal(px.seen.length, 3);

  const again = await adminCall(relay.url, "POST", `/api/v1/messages/${env.msg_id}/retry`);
  assert.equal(again.status, 409);
  assert.equal(again.json.error, "nothing_to_retry");
  assert.deepEqual(again.json.details.deliveries, [{ destination: "platformx", state: "sent" }]);
  const noDest = await adminCall(relay.url, "POST", `/api/v1/messages/${env.msg_id}/retry`, {
    destination: "slack",
  });
  assert.equal(noDest.status, 404);
  const unknownMsg = await adminCall(relay.url, "POST", "/api/v1/messages/nope/retry");
  assert.equal(unknownMsg.status, 404);
  await sleep(100);
  assert.equal(delivered, 1, "nothing is sent twice");
});

Deno.test("retry all failed deliveries of a destination, then purge by age", async () => {
  let healthy = false;
  await using px = startStub(() =>
    healthy ? Response.json({ ok: true }) : new Response("nope", { status: 400 })
  );
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const a = await golden("TemplateWorkspaceCreated.json", { data: workspaceData("a@example.com") });
  const b = await golden("TemplateUserAccountCreated.json", { data: userData("b@example.com") });
  await relay.post(a);
  await relay.post(b);
  await waitForDelivery(relay.app.store, a.msg_id, "permanent_failure");
  await waitForDelivery(relay.app.store, b.msg_id, "permanent_failure");

  const missing = await adminCall(relay.url, "POST", "/api/v1/messages/retry", {});
  assert.equal(missing.status, 400);
  assert.equal(missing.json.details.issues[0].path, "destination");
  const unknown = await adminCall(relay.url, "POST", "/api/v1/messages/retry", {
    destination: "nowhere",
  });
  assert.equal(unknown.status, 404);

  healthy = true;
  const res = await adminCall(relay.url, "POST", "/api/v1/messages/retry", {
    destination: "platformx",
  });
  assert.equal(res.status, 200);
  assert.deepEqual({ ...res.json, msg_ids: res.json.msg_ids.toSorted() }, {
    destination: "platformx",
    requeued: 2,
    msg_ids: [a.msg_id, b.msg_id].toSorted(),
    skipped: [],
  });
  await waitForDelivery(relay.app.store, a.msg_id, "sent");
  await waitForDelivery(relay.app.store, b.msg_id, "sent");
  // No subject email and no Coder lookup: replaying cannot help, so it is reported instead.
  const c = await golden("TemplateWorkspaceCreated.json", {
    data: { owner: { id: "u1", name: "bobby" } },
  });
  await relay.post(c);
  await waitForDelivery(relay.app.store, c.msg_id, "permanent_failure");
  const none = await adminCall(relay.url, "POST", "/api/v1/messages/retry", {
    destination: "platformx",
  });
  assert.equal(none.json.requeued, 0);
  assert.equal(none.json.skipped.length, 1);
  assert.equal(none.json.skipped[0].msg_id, c.msg_id);
  assert.match(none.json.skipped[0].reason, /CODER_URL\/CODER_SESSION_TOKEN are unset/);
  const after = await relay.app.store.getMessage(c.msg_id);
  assert.equal(after?.deliveries[0].state, "permanent_failure", "left as it was");

  const bad = await adminCall(relay.url, "POST", "/api/v1/messages/purge", {
    older_than_days: -1,
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.details.issues[0].path, "older_than_days");
  const keep = await adminCall(relay.url, "POST", "/api/v1/messages/purge", { older_than_days: 1 });
  assert.deepEqual(keep.json, { purged: 0 });
  await sleep(5);
  const purge = await adminCall(relay.url, "POST", "/api/v1/messages/purge", {
    older_than_days: 0,
  });
  assert.deepEqual(purge.json, { purged: 3 });
  const gone = await adminCall(relay.url, "GET", `/api/v1/messages/${a.msg_id}`);
  assert.equal(gone.status, 404);
  await waitFor(async () => (await relay.app.store.queueStats()).size === 0, 5000, "empty queue");
});

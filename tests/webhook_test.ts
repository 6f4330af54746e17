import assert from "node:assert/strict";
import { createKvStore } from "../src/store/kv.ts";
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

/** A relay on a KV handle the test can inspect directly. */
async function inspectableRelay(env: Record<string, string> = {}) {
  const kv = await Deno.openKv(":memory:");
  const store = createKvStore(kv);
  const relay = await startRelay(testConfig(env), { store });
  const keys = async () => {
    let n = 0;
    for await (const _ of kv.list({ prefix: [] })) n++;
    return n;
  };
  return { relay, keys };
}

Deno.test("bad input: each gets its status and a precise message, and the store is unchanged", async (t) => {
  const { relay, keys } = await inspectableRelay({
    RELAY_AUTH_TOKEN: "s3cret",
    RELAY_MAX_BODY_BYTES: "4096",
  });
  await using _ = relay;
  const valid = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  const auth = { authorization: "Bearer s3cret" };
  const cases: {
    name: string;
    body: string | Uint8Array;
    headers?: Record<string, string>;
    status: number;
    message: RegExp;
  }[] = [
    { name: "empty body", body: "", headers: auth, status: 400, message: /body is empty/ },
    {
      name: "invalid JSON",
      body: '{"msg_id": ',
      headers: auth,
      status: 400,
      message: /not valid JSON/,
    },
    {
      name: "JSON array",
      body: "[1,2]",
      headers: auth,
      status: 400,
      message: /must be a JSON object.*array/,
    },
    { name: "JSON null", body: "null", headers: auth, status: 400, message: /got null/ },
    {
      name: "missing payload",
      body: JSON.stringify({ ...valid, payload: undefined }),
      headers: auth,
      status: 400,
      message: /payload: is required/,
    },
    {
      name: "wrong type for notification_name",
      body: JSON.stringify({ ...valid, payload: { ...valid.payload, notification_name: 42 } }),
      headers: auth,
      status: 400,
      message: /payload\.notification_name: expected string/,
    },
    {
      name: "labels not strings",
      body: JSON.stringify({ ...valid, payload: { ...valid.payload, labels: { a: 1 } } }),
      headers: auth,
      status: 400,
      message: /payload\.labels\.a/,
    },
    {
      name: "NUL character in msg_id",
      body: JSON.stringify({ ...valid, msg_id: "abc\u0000def" }),
      headers: auth,
      status: 400,
      message: /msg_id: must be 1-128 characters from A-Z a-z 0-9 . _ : -/,
    },
    {
      name: "unsupported _version",
      body: JSON.stringify({ ...valid, _version: "2.0" }),
      headers: auth,
      status: 400,
      message: /_version: expected a 1\.x version/,
    },
    {
      name: "X-Message-Id disagrees with msg_id",
      body: JSON.stringify(valid),
      headers: { ...auth, "x-message-id": "other" },
      status: 400,
      message: /X-Message-Id header \(other\) does not match/,
    },
    {
      name: "huge body (declared length)",
      body: JSON.stringify({ ...valid, body: "x".repeat(10_000) }),
      headers: auth,
      status: 413,
      message: /exceeds the 4096-byte limit/,
    },
    { name: "no credentials", body: JSON.stringify(valid), status: 401, message: /required/ },
    {
      name: "wrong bearer token",
      body: JSON.stringify(valid),
      headers: { authorization: "Bearer nope" },
      status: 401,
      message: /wrong credentials/,
    },
    {
      name: "wrong basic password",
      body: JSON.stringify(valid),
      headers: { authorization: `Basic ${btoa("relay:nope")}` },
      status: 401,
      message: /wrong credentials/,
    },
  ];
  const before = await keys();
  for (const c of cases) {
    await t.step(c.name, async () => {
      const res = await relay.post(c.body, { headers: c.headers });
      assert.equal(res.status, c.status);
      assert.match(String(res.json.message), c.message);
      assert.ok(!String(res.json.message).includes("    at "), "no stack trace");
      assert.equal(await keys(), before);
    });
  }
  await t.step("huge body sent chunked (no Content-Length) is cut off at the limit", async () => {
    const chunk = new TextEncoder().encode("x".repeat(1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 64) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${relay.url}/`, { method: "POST", headers: auth, body: stream });
    assert.equal(res.status, 413);
    assert.match((await res.json()).message, /exceeds the 4096-byte limit/);
    assert.equal(await keys(), before);
  });
});

Deno.test("auth: Basic (URL userinfo), Bearer and ?token= are accepted", async () => {
  await using px = startStub();
  await using relay = await startRelay(
    testConfig({ RELAY_AUTH_TOKEN: "s3cret", GETDX_API_URL: px.url }),
  );
  const env = () => golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  // What Go's client sends for https://relay:s3cret@host/: the userinfo as Basic.
  const basic = await relay.post(await env(), {
    headers: { authorization: `Basic ${btoa("relay:s3cret")}` },
  });
  assert.equal(basic.status, 202);
  assert.equal(
    (await relay.post(await env(), { headers: { authorization: "Bearer s3cret" } })).status,
    202,
  );
  assert.equal((await relay.post(await env(), { path: "/?token=s3cret" })).status, 202);
  assert.equal((await relay.post(await env(), { path: "/?token=s3cre" })).status, 401);
});

Deno.test("untracked events: 200, nothing stored, nothing sent", async () => {
  const { relay, keys } = await inspectableRelay();
  await using _ = relay;
  const res = await relay.post(await golden("TemplateWorkspaceAutobuildFailed.json"));
  assert.equal(res.status, 200);
  assert.equal(res.json.status, "ignored");
  assert.equal(await keys(), 0);
});

Deno.test("same msg_id twice (a Coder retry): one stored message, one event", async () => {
  await using px = startStub();
  await using relay = await startRelay(testConfig({ GETDX_API_URL: px.url }));
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  assert.equal((await relay.post(env)).status, 202);
  await waitForDelivery(relay.app.store, env.msg_id, "sent");
  const again = await relay.post(env);
  assert.equal(again.status, 200);
  assert.equal(again.json.status, "duplicate");
  await sleep(150);
  assert.equal(px.seen.length, 1);
});

Deno.test("one event fanned out to three recipients: one PlatformX event", async () => {
  await using px = startStub();
  await using relay = await startRelay(testConfig({ GETDX_API_URL: px.url }));
  const recipients = ["admin1", "admin2", "admin3"];
  const ids: string[] = [];
  for (const r of recipients) {
    const env = await golden("TemplateUserAccountSuspended.json", {
      user_email: `${r}@example.com`,
      user_username: r,
      user_name: r,
      user_id: crypto.randomUUID(),
      data: userData("suspended@example.com"),
    });
    ids.push(env.msg_id);
    assert.equal((await relay.post(env)).status, 202);
  }
  await waitForDelivery(relay.app.store, ids[0], "sent");
  for (const id of ids.slice(1)) {
    const d = await waitForDelivery(relay.app.store, id, "deduplicated");
    assert.match(d.statusReason ?? "", new RegExp(ids[0]));
  }
  await sleep(150);
  assert.equal(px.seen.length, 1);
  assert.equal(JSON.parse(px.seen[0].body).email, "suspended@example.com");

  // A different subject is a different event.
  const other = await golden("TemplateUserAccountSuspended.json", {
    data: userData("someone-else@example.com"),
  });
  await relay.post(other);
  await waitFor(() => px.seen.length === 2, 5000, "second subject's event");
});

Deno.test("store unavailable: 503 with Retry-After so Coder retries; readyz says 503", async () => {
  const kv = await Deno.openKv(":memory:");
  const store = createKvStore(kv);
  await using relay = await startRelay(testConfig(), { store });
  assert.equal((await fetch(`${relay.url}/readyz`).then((r) => r.json())).status, "ready");
  kv.close(); // the store's handle is gone: every write fails
  const res = await relay.post(
    await golden("TemplateWorkspaceCreated.json", {
      data: workspaceData(),
    }),
  );
  assert.equal(res.status, 503);
  assert.equal(res.json.error, "store_unavailable");
  const ready = await fetch(`${relay.url}/readyz`);
  assert.equal(ready.status, 503);
  assert.deepEqual(await ready.json(), { status: "unavailable", error: "store unreachable" });
});

Deno.test("health endpoints answer as the Python middleware did, plus healthz", async () => {
  await using relay = await startRelay(testConfig());
  const root = await fetch(`${relay.url}/`);
  assert.equal(root.status, 200);
  assert.ok((await root.json()).message);
  const health = await fetch(`${relay.url}/health`);
  assert.deepEqual(await health.json(), { status: "healthy" });
  const healthz = await (await fetch(`${relay.url}/healthz`)).json();
  assert.equal(healthz.status, "ok");
  assert.match(healthz.version, /^\d+\.\d+\.\d+/);
  const missing = await fetch(`${relay.url}/nope`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error, "not_found");
});

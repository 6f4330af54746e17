import assert from "node:assert/strict";
import { parseAllowlist } from "../src/net/address_guard.ts";
import {
  BlockedAddressError,
  createGuardedFetch,
  fetchForSource,
} from "../src/net/guarded_fetch.ts";
import { destinationUrlIssues } from "../src/net/destination_urls.ts";
import { createDestinations } from "../src/destinations/create.ts";
import { openKvStore } from "../src/store/kv.ts";
import { golden, sleep, startStub, testConfig } from "./helpers/stubs.ts";

// Every connection here goes to loopback stubs; other addresses are tested as data only.

Deno.test("guarded fetch: loopback refused without an allowlist, the stub receives nothing", async () => {
  await using stub = startStub();
  const guarded = createGuardedFetch(parseAllowlist(""));
  const port = stub.port;
  for (const url of [stub.url, `http://localhost:${port}/`, `http://2130706433:${port}/`]) {
    await assert.rejects(guarded(url, { method: "POST", body: "{}" }), BlockedAddressError);
  }
  assert.equal(stub.seen.length, 0);
});

Deno.test("guarded fetch: the name is checked at connect time (lookup), not only as a literal", async () => {
  await using stub = startStub();
  // "localhost" resolves to loopback inside the connection's lookup: refused there.
  const guarded = createGuardedFetch(parseAllowlist("10.0.0.0/8"));
  await assert.rejects(guarded(`http://localhost:${stub.port}/x`), /localhost \(127\.0\.0\.1\)/);
  assert.equal(stub.seen.length, 0);
});

Deno.test("guarded fetch: allowlisted loopback is delivered, body and headers intact, no redirects", async () => {
  await using stub = startStub((req) =>
    req.path === "/moved"
      ? new Response(null, { status: 302, headers: { location: "/elsewhere" } })
      : Response.json({ got: req.body, id: req.headers.get("webhook-id") }, { status: 201 })
  );
  const guarded = createGuardedFetch(parseAllowlist("127.0.0.1/32"));
  const res = await guarded(`${stub.url}/in?x=1`, {
    method: "POST",
    headers: { "content-type": "application/json", "webhook-id": "msg_1" },
    body: '{"n":12345678901234567890123}',
  });
  assert.equal(res.status, 201);
  assert.deepEqual(await res.json(), { got: '{"n":12345678901234567890123}', id: "msg_1" });
  assert.equal(stub.seen[0].path, "/in?x=1");
  const moved = await guarded(`${stub.url}/moved`);
  assert.equal(moved.status, 302);
  await moved.body?.cancel();
  assert.equal(stub.seen.length, 2, "the redirect was not followed");
  const byName = createGuardedFetch(parseAllowlist("localhost"));
  const named = await byName(`http://localhost:${stub.port}/`);
  assert.equal(named.status, 201);
  await named.body?.cancel();
});

Deno.test("guarded fetch: honours the abort signal", async () => {
  await using stub = startStub(async () => {
    await sleep(1000);
    return new Response("late");
  });
  const guarded = createGuardedFetch(parseAllowlist("127.0.0.1"));
  const started = Date.now();
  await assert.rejects(guarded(stub.url, { signal: AbortSignal.timeout(100) }));
  assert.ok(Date.now() - started < 800);
  await sleep(1000); // let the stub finish its answer
});

Deno.test("fetchForSource: the operator's destinations keep plain fetch", () => {
  assert.equal(fetchForSource("env", fetch, parseAllowlist("")), fetch);
  assert.equal(fetchForSource("config", fetch, parseAllowlist("")), fetch);
  assert.notEqual(fetchForSource("api", fetch, parseAllowlist("")), fetch);
});

Deno.test("destinationUrlIssues: literal and resolved private hosts name their field", async () => {
  const empty = parseAllowlist("");
  for (
    const url of [
      "http://127.0.0.1/",
      "http://localhost:9/",
      "http://[::1]/",
      "http://169.254.169.254/latest",
      "http://10.0.0.1/",
      "http://0.0.0.0/",
      "http://2130706433/",
      "http://0x7f.1/",
    ]
  ) {
    const issues = await destinationUrlIssues({ url }, empty);
    assert.equal(issues.length, 1, url);
    assert.equal(issues[0].path, "configuration.url");
  }
  const apiIssues = await destinationUrlIssues({ api_url: "http://10.1.1.1" }, empty);
  assert.equal(apiIssues[0].path, "configuration.api_url");
  assert.deepEqual(
    await destinationUrlIssues({ url: "http://127.0.0.1:1/" }, parseAllowlist("127.0.0.1/32")),
    [],
  );
});

Deno.test("every admin-API destination type gets the guarded fetch: Teams and template webhooks too", async () => {
  await using stub = startStub();
  const store = await openKvStore(":memory:");
  try {
    const calls: string[] = [];
    const spy: typeof fetch = (input, init) => {
      calls.push(String(input));
      return fetch(input, init);
    };
    const set = createDestinations(testConfig(), { fetch: spy, now: Date.now, store });
    const subscription = (type: string, configuration: Record<string, unknown>) => ({
      id: type,
      name: type,
      type,
      eventTypes: ["*"],
      configuration,
      enabled: true,
      createdAt: 0,
      updatedAt: 0,
    });
    const msg = await golden("TemplateWorkspaceDeleted.json");
    const ctx = { msgId: msg.msg_id, envelope: msg, receivedAt: 0, attempt: 1 };
    for (
      const sub of [
        subscription("teams", { url: stub.url }),
        subscription("webhook", { url: stub.url, preset: "mattermost" }),
        subscription("slack-webhook", { url: stub.url }),
      ]
    ) {
      const result = await set.build(sub).send(ctx);
      assert.equal(result.state, "permanent_failure", sub.type);
      assert.ok(result.state === "permanent_failure" && result.notSent, sub.type);
      assert.match(result.reason, /RELAY_ALLOW_PRIVATE_DESTINATIONS/);
    }
    assert.deepEqual(calls, [], "the injected (unguarded) fetch was never used");
    assert.equal(stub.seen.length, 0);
  } finally {
    await store.close();
  }
});

import assert from "node:assert/strict";
import {
  golden,
  startRelay,
  startRelayProcess,
  startStub,
  testConfig,
  waitForDelivery,
} from "./helpers/stubs.ts";
import type { Destination } from "../src/destinations/destination.ts";
import type { Fetch } from "../src/sinks/http.ts";
import { createWebhookSink, webhook } from "../src/sinks/webhook.ts";

// Issue 12 item 6.

Deno.test("process: a msg_id or X-Message-Id that is not header-safe is refused with 400", async () => {
  await using px = startStub();
  await using relay = await startRelayProcess({
    RELAY_STORE: ":memory:",
    GETDX_API_KEY: "k",
    GETDX_API_URL: px.url,
  });
  for (const bad of ["a\r\nb", "bell\u0007", "with space", 'q"uote', "x".repeat(129), ""]) {
    const msg = await golden("TemplateWorkspaceCreated.json");
    const res = await fetch(`${relay.url}/`, {
      method: "POST",
      body: JSON.stringify({ ...msg, msg_id: bad }),
    });
    assert.equal(res.status, 400, JSON.stringify(bad));
    assert.match((await res.json()).message, /msg_id: must be 1-128 characters/);
  }
  const msg = await golden("TemplateWorkspaceCreated.json");
  const res = await fetch(`${relay.url}/`, {
    method: "POST",
    headers: { "x-message-id": 'id with "quote"' },
    body: JSON.stringify(msg),
  });
  assert.equal(res.status, 400);
  assert.match((await res.json()).message, /X-Message-Id header: .*msg_id/);
  const ok = await fetch(`${relay.url}/`, {
    method: "POST",
    headers: { "x-message-id": msg.msg_id },
    body: JSON.stringify(msg),
  });
  assert.equal(ok.status, 202);
  await ok.body?.cancel();
  assert.equal(px.seen.length <= 1, true);
});

Deno.test("a request that cannot be built fails its message permanently, never the destination", async () => {
  await using hook = startStub();
  // Messages whose id starts with "bad" get a header value fetch cannot send (BEL).
  const poisoning: Fetch = (input, init) => {
    const body = String(init?.body ?? "");
    const headers = new Headers(init?.headers);
    if (body.includes('"msg_id":"bad')) {
      return fetch(input, {
        ...init,
        headers: { ...Object.fromEntries(headers), "x-p": "a\u0007b" },
      });
    }
    return fetch(input, init);
  };
  const config = testConfig({
    GETDX_API_KEY: "",
    RELAY_RETRY_MIN_MS: "2000",
    RELAY_RETRY_MAX_MS: "4000",
  });
  const dest: Destination = {
    id: "hook",
    type: "webhook",
    events: { all: true } as Destination["events"],
    enabled: true,
    source: "config",
    sink: createWebhookSink({
      url: hook.url,
      format: "coder",
      fetch: poisoning,
      timeoutMs: 2000,
      now: Date.now,
    }),
  };
  await using relay = await startRelay(config, { destinations: [dest] });
  for (let i = 0; i < 10; i++) {
    const msg = await golden("TemplateWorkspaceCreated.json");
    assert.equal((await relay.post({ ...msg, msg_id: `bad-${i}` })).status, 202);
  }
  for (let i = 0; i < 10; i++) {
    const d = await waitForDelivery(relay.app.store, `bad-${i}`, "permanent_failure", "hook");
    assert.match(d.statusReason ?? "", /request not sent/);
  }
  const good = await golden("TemplateWorkspaceCreated.json");
  const started = Date.now();
  assert.equal((await relay.post(good)).status, 202);
  await waitForDelivery(relay.app.store, good.msg_id, "sent", "hook", 1500);
  assert.ok(Date.now() - started < 1500, "no outage pause after the poison messages");
  assert.equal(hook.seen.length, 1);
});

Deno.test("webhook headers in a destination's configuration must be sendable", () => {
  const parse = (headers: Record<string, string>) =>
    webhook.schema.safeParse({ url: "https://example.com/", headers }).success;
  assert.equal(parse({ authorization: "Bearer x" }), true);
  assert.equal(parse({ "x-a": "a\r\nb" }), false);
  assert.equal(parse({ "x-a": "bell\u0007" }), false);
  assert.equal(parse({ "bad name": "v" }), false);
});

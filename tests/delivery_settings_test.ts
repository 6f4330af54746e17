/**
 * Per-destination delivery settings (issue 14): concurrency, rate limit and retry schedule, from
 * the `RELAY_CONFIG` file and the admin API, honoured by a real relay sending to loopback stubs.
 */
import assert from "node:assert/strict";
import { destinationsFromConfig, sinkDepsFromConfig } from "../src/destinations/create.ts";
import { adminCall, adminConfig } from "./helpers/admin.ts";
import {
  golden,
  type Seen,
  sleep,
  startRelay,
  startStub,
  testConfig,
  waitFor,
  waitForDelivery,
  withConfigFile,
  workspaceData,
} from "./helpers/stubs.ts";

/** A config file with one webhook destination `hook` to `url`, with `delivery` settings. */
function hookFile(url: string, delivery: unknown) {
  return {
    destinations: [{
      id: "hook",
      type: "webhook",
      events: ["*"],
      configuration: { url },
      delivery,
    }],
  };
}

/** `n` distinct Coder webhooks. */
function messages(n: number) {
  return Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        golden("TemplateWorkspaceCreated.json", { data: workspaceData(`u${i}@example.com`) }),
    ),
  );
}

/** A stub that holds each request `holdMs` and records the most it held at once. */
function countingStub(holdMs: number) {
  let now = 0;
  const state = { max: 0 };
  const stub = startStub(async () => {
    state.max = Math.max(state.max, ++now);
    await sleep(holdMs);
    now--;
    return new Response(null, { status: 204 });
  });
  return { stub, state };
}

Deno.test("RELAY_CONFIG: delivery settings are validated and carried on the destination", async () => {
  const deps = { fetch, now: () => Date.now() };
  await withConfigFile(
    hookFile("https://hooks.example.com/a", {
      concurrency: 2,
      rate_limit: 0.5,
      retry_schedule: [1000, 60000],
    }),
    (path) => {
      const [, hook] = destinationsFromConfig(
        sinkDepsFromConfig(testConfig({ RELAY_CONFIG: path }), deps),
      );
      assert.deepEqual(hook.delivery, {
        concurrency: 2,
        rateLimit: 0.5,
        retrySchedule: [1000, 60000],
      });
    },
  );
  const bad: [unknown, RegExp][] = [
    [{ concurrency: 0 }, /destinations\[0\]\.delivery\.concurrency: must be at least 1/],
    [{ rate_limit: -1 }, /destinations\[0\]\.delivery\.rate_limit: must be greater than 0/],
    [{ retry_schedule: [] }, /destinations\[0\]\.delivery\.retry_schedule: list at least one/],
    [{ retry_schedule: [1.5] }, /retry_schedule\[0\]: expected a whole number of ms/],
    [{ burst: 3 }, /destinations\[0\]\.delivery: .*burst/],
  ];
  for (const [delivery, message] of bad) {
    await withConfigFile(hookFile("https://hooks.example.com/a", delivery), (path) => {
      assert.throws(() => testConfig({ RELAY_CONFIG: path }), message);
    });
  }
});

Deno.test("admin API: delivery settings are validated, stored, shown and patched", async () => {
  await using relay = await startRelay(adminConfig());
  const body = {
    name: "ops hook",
    type: "webhook",
    event_types: ["*"],
    configuration: { url: "https://hooks.example.com/ops" },
    delivery: { concurrency: 3, rate_limit: 20, retry_schedule: [100, 5000] },
  };
  const created = await adminCall(relay.url, "POST", "/api/v1/webhooks/", body);
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.json.delivery, body.delivery);
  const id = created.json.id;
  const shown = await adminCall(relay.url, "GET", `/api/v1/webhooks/${id}`);
  assert.deepEqual(shown.json.delivery, body.delivery);

  const patched = await adminCall(relay.url, "PATCH", `/api/v1/webhooks/${id}`, { name: "x" });
  assert.deepEqual(patched.json.delivery, body.delivery, "a PATCH without it keeps it");
  const replaced = await adminCall(relay.url, "PATCH", `/api/v1/webhooks/${id}`, {
    delivery: { concurrency: 1 },
  });
  assert.deepEqual(replaced.json.delivery, { concurrency: 1 }, "sent: replaced whole");
  const removed = await adminCall(relay.url, "PATCH", `/api/v1/webhooks/${id}`, {
    delivery: null,
  });
  assert.equal(removed.status, 200, removed.text);
  assert.equal(removed.json.delivery, undefined, "null: back to the relay's defaults");

  const bad = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    ...body,
    delivery: { concurrency: 1000, retry_schedule: [-5] },
  });
  assert.equal(bad.status, 400);
  const paths = bad.json.details.issues.map((i: { path: string }) => i.path).sort();
  assert.deepEqual(paths, ["delivery.concurrency", "delivery.retry_schedule.0"]);
  const list = await adminCall(relay.url, "GET", "/api/v1/webhooks/");
  const apiDefined = list.json.results.filter((r: { source: string }) => r.source === "api");
  assert.deepEqual(apiDefined.map((r: { id: string }) => r.id), [id], "the bad one not stored");
});

Deno.test("a destination's concurrency bounds its sends in flight", async () => {
  const { stub, state } = countingStub(150);
  await using _stub = stub;
  await withConfigFile(hookFile(stub.url, { concurrency: 2 }), async (path) => {
    await using relay = await startRelay(
      testConfig({ RELAY_CONFIG: path, RELAY_CONCURRENCY: "8" }),
    );
    const sent = await messages(8);
    for (const m of sent) assert.equal((await relay.post(m)).status, 202);
    for (const m of sent) {
      await waitForDelivery(relay.app.store, m.msg_id, "sent", "hook", 10_000);
    }
    assert.equal(state.max, 2, "never more than 2 at once, and 2 were used");
  });
});

Deno.test("a destination's rate limit spaces its requests", async () => {
  await using stub = startStub(() => new Response(null, { status: 204 }));
  await withConfigFile(hookFile(stub.url, { rate_limit: 10 }), async (path) => {
    await using relay = await startRelay(testConfig({ RELAY_CONFIG: path }));
    const sent = await messages(6);
    for (const m of sent) assert.equal((await relay.post(m)).status, 202);
    const seen = await waitFor(() => stub.seen.length >= 6 && stub.seen, 10_000, "6 requests");
    const gaps = seen.slice(1).map((s: Seen, i) => s.at - seen[i].at);
    // 10/s, one token at a time: 100 ms apart when they leave. Arrival adds scheduling jitter to
    // each request, so a single gap may shrink under load, but none is a burst and the 6 together
    // take their 500 ms (unlimited, they arrive within a few ms of each other).
    const span = seen[5].at - seen[0].at;
    for (const gap of gaps) assert.ok(gap >= 20, `requests ${gaps.join(", ")} ms apart`);
    assert.ok(span >= 450, `6 requests within ${span} ms (gaps ${gaps.join(", ")})`);
  });
});

Deno.test("a destination's retry schedule sets the delays and when to give up", async () => {
  await using stub = startStub(() => new Response("busy", { status: 503 }));
  await withConfigFile(hookFile(stub.url, { retry_schedule: [50, 400] }), async (path) => {
    // The relay-wide backoff is at most 200 ms and allows 12 attempts: the schedule overrides both.
    await using relay = await startRelay(testConfig({ RELAY_CONFIG: path }));
    const [m] = await messages(1);
    assert.equal((await relay.post(m)).status, 202);
    const d = await waitForDelivery(relay.app.store, m.msg_id, "permanent_failure", "hook", 10_000);
    assert.equal(d.attempts, 3);
    assert.match(d.statusReason ?? "", /gave up after 3 attempts/);
    const [a, b, c] = stub.seen.map((s) => s.at);
    assert.equal(stub.seen.length, 3);
    assert.ok(b - a >= 45 && b - a < 400, `first retry after ${b - a} ms`);
    assert.ok(c - b >= 395, `second retry after ${c - b} ms`);
  });
});

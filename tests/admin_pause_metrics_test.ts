import assert from "node:assert/strict";
import meta from "../deno.json" with { type: "json" };
import { createRegistry } from "../src/metrics.ts";
import { adminCall, adminConfig } from "./helpers/admin.ts";
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

/** The value of one series (`name{labels}`) in a scrape, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return await res.text();
}

Deno.test("global pause holds deliveries while accepting continues; resume drains them", async () => {
  await using px = startStub();
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const paused = await adminCall(relay.url, "POST", "/api/v1/pause");
  assert.equal(paused.status, 200);
  assert.equal(paused.json.paused, true);
  const envs = await Promise.all(
    [1, 2, 3].map((i) =>
      golden("TemplateWorkspaceCreated.json", {
        data: workspaceData(`u${i}@example.com`),
        labels: { workspace_name: `ws-${i}` },
      })
    ),
  );
  for (const env of envs) assert.equal((await relay.post(env)).status, 202);
  await sleep(300);
  assert.equal(px.seen.length, 0, "nothing leaves while paused");
  for (const env of envs) {
    const m = await relay.app.store.getMessage(env.msg_id);
    assert.equal(m?.deliveries[0].state, "pending");
  }
  assert.equal((await adminCall(relay.url, "GET", "/api/v1/pause")).json.paused, true);
  const resumed = await adminCall(relay.url, "POST", "/api/v1/resume");
  assert.equal(resumed.json.paused, false);
  for (const env of envs) await waitForDelivery(relay.app.store, env.msg_id, "sent");
  assert.equal(px.seen.length, 3);
});

Deno.test("per-destination pause, validated, and persisted across a restart", async () => {
  await using px = startStub();
  const dir = await Deno.makeTempDir();
  const config = adminConfig({ GETDX_API_URL: px.url, RELAY_STORE: `${dir}/relay.kv` });
  try {
    {
      await using relay = await startRelay(config);
      const unknown = await adminCall(relay.url, "POST", "/api/v1/pause", {
        destination: "nowhere",
      });
      assert.equal(unknown.status, 404);
      const invalid = await adminCall(relay.url, "POST", "/api/v1/pause", { destination: 5 });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.json.details.issues[0].path, "destination");
      const res = await adminCall(relay.url, "POST", "/api/v1/pause", {
        destination: "platformx",
      });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json.paused_destinations, ["platformx"]);
      assert.equal(res.json.paused, false);
    }
    // A new process on the same store: the switch is still on.
    await using relay = await startRelay(config);
    const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
    assert.equal((await relay.post(env)).status, 202);
    await sleep(300);
    assert.equal(px.seen.length, 0);
    const state = await adminCall(relay.url, "GET", "/api/v1/pause");
    assert.deepEqual(state.json.paused_destinations, ["platformx"]);
    await adminCall(relay.url, "POST", "/api/v1/resume", { destination: "platformx" });
    await waitForDelivery(relay.app.store, env.msg_id, "sent");
    assert.equal(px.seen.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("metrics: counters, queue gauges and histograms move as messages flow", async () => {
  await using px = startStub();
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const before = await scrape(relay.url);
  // Every series is there from start-up, at 0, for each destination.
  assert.equal(sample(before, "coder_relay_messages_received_total"), 0);
  assert.equal(sample(before, 'coder_relay_messages_accepted_total{result="stored"}'), 0);
  assert.equal(sample(before, 'coder_relay_delivery_paused{destination="*"}'), 0);
  assert.equal(sample(before, 'coder_relay_delivery_paused{destination="platformx"}'), 0);
  assert.equal(sample(before, 'coder_relay_queue_depth{destination="platformx"}'), 0);
  assert.equal(sample(before, 'coder_relay_queue_oldest_age_seconds{destination="platformx"}'), 0);
  for (const state of ["sent", "temporary_failure", "permanent_failure", "unknown"]) {
    assert.equal(
      sample(before, `coder_relay_deliveries_total{destination="platformx",state="${state}"}`),
      0,
    );
  }

  await adminCall(relay.url, "POST", "/api/v1/pause");
  const env = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
  await relay.post(env);
  await relay.post(env); // Coder's retry of the same message
  await relay.post({ not: "coder" });
  await relay.post(await golden("TemplateTestNotification.json")); // not tracked
  await sleep(50);
  const held = await scrape(relay.url);
  assert.equal(sample(held, "coder_relay_messages_received_total"), 4);
  assert.equal(sample(held, 'coder_relay_messages_accepted_total{result="stored"}'), 1);
  assert.equal(sample(held, 'coder_relay_messages_accepted_total{result="duplicate"}'), 1);
  assert.equal(sample(held, 'coder_relay_messages_accepted_total{result="ignored"}'), 1);
  assert.equal(sample(held, 'coder_relay_messages_rejected_total{reason="invalid_body"}'), 1);
  assert.equal(sample(held, 'coder_relay_queue_depth{destination="platformx"}'), 1);
  const age = sample(held, 'coder_relay_queue_oldest_age_seconds{destination="platformx"}');
  assert.ok(age !== undefined && age >= 0.04, `oldest age ${age}`);
  // The stored message and Coder's retry each took one store call.
  assert.equal(sample(held, "coder_relay_store_write_duration_seconds_count"), 2);
  assert.equal(sample(held, 'coder_relay_delivery_paused{destination="*"}'), 1);
  assert.equal(
    sample(held, 'coder_relay_deliveries_total{destination="platformx",state="sent"}'),
    0,
  );

  await adminCall(relay.url, "POST", "/api/v1/resume");
  await waitForDelivery(relay.app.store, env.msg_id, "sent");
  const after = await scrape(relay.url);
  assert.equal(
    sample(after, 'coder_relay_deliveries_total{destination="platformx",state="sent"}'),
    1,
  );
  assert.equal(
    sample(after, 'coder_relay_delivery_duration_seconds_count{destination="platformx"}'),
    1,
  );
  assert.equal(
    sample(
      after,
      'coder_relay_delivery_duration_seconds_bucket{destination="platformx",le="+Inf"}',
    ),
    1,
  );
  assert.equal(sample(after, 'coder_relay_queue_depth{destination="platformx"}'), 0);
  assert.equal(sample(after, 'coder_relay_delivery_paused{destination="*"}'), 0);

  // An unauthenticated webhook counts as rejected too.
  await using locked = await startRelay(
    adminConfig({ GETDX_API_URL: px.url, RELAY_AUTH_TOKEN: "inbound-secret" }),
  );
  assert.equal((await locked.post(env)).status, 401);
  await waitFor(async () =>
    sample(
      await scrape(locked.url),
      'coder_relay_messages_rejected_total{reason="unauthorized"}',
    ) === 1
  );
});

Deno.test("metrics: build info, process memory and start time, one prefix for every series", async () => {
  await using px = startStub();
  const startedBefore = Date.now() / 1000;
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const text = await scrape(relay.url);
  assert.equal(
    sample(text, `coder_relay_build_info{version="${meta.version}",deno="${Deno.version.deno}"}`),
    1,
  );
  const rss = sample(text, "coder_relay_process_resident_memory_bytes");
  assert.ok(rss !== undefined && rss > 10_000_000, `resident memory ${rss}`);
  const started = sample(text, "coder_relay_process_start_time_seconds");
  assert.ok(
    started !== undefined && started <= startedBefore && started > startedBefore - 3600,
    `start time ${started}`,
  );
  const families = text.split("\n").filter((l) => l.startsWith("# TYPE ")).map((l) =>
    l.split(" ")[2]
  );
  const names = new Set([
    ...families,
    ...text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]),
  ]);
  assert.equal(families.length, 14, families.join(", "));
  assert.deepEqual([...names].filter((n) => !n.startsWith("coder_relay_")), []);
});

Deno.test("metrics: a destination added through the admin API shows at 0 on the next scrape", async () => {
  await using px = startStub();
  await using relay = await startRelay(adminConfig({ GETDX_API_URL: px.url }));
  const created = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "Analytics",
    event_types: ["Workspace Created"],
    type: "platformx",
    configuration: { api_key: "k-metrics-test", api_url: px.url },
  });
  assert.equal(created.status, 201);
  const id = created.json.id as string;
  await waitFor(
    async () => {
      const text = await scrape(relay.url);
      return sample(text, `coder_relay_queue_depth{destination="${id}"}`) === 0 &&
        sample(text, `coder_relay_deliveries_total{destination="${id}",state="sent"}`) === 0 &&
        sample(text, `coder_relay_delivery_paused{destination="${id}"}`) === 0;
    },
    5000,
    "the new destination's series",
  );
});

Deno.test("metrics behind RELAY_METRICS_TOKEN: 401 without it, 200 with it however it is sent", async () => {
  const token = "metrics-scrape-token-7d2e";
  await using relay = await startRelay(testConfig({ RELAY_METRICS_TOKEN: token }));
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${relay.url}${path}`, { headers }).then(async (r) => ({
      status: r.status,
      text: await r.text(),
    }));
  const none = await get("/metrics");
  assert.equal(none.status, 401);
  assert.equal(JSON.parse(none.text).error, "unauthorized");
  assert.equal((await get("/metrics", { authorization: "Bearer wrong-token" })).status, 401);
  const bearer = await get("/metrics", { authorization: `Bearer ${token}` });
  assert.equal(bearer.status, 200);
  assert.match(bearer.text, /^# HELP /m);
  const basic = await get("/metrics", { authorization: `Basic ${btoa(`prometheus:${token}`)}` });
  assert.equal(basic.status, 200);
  assert.equal((await get(`/metrics?token=${token}`)).status, 200);
  assert.equal((await get("/healthz")).status, 200, "only /metrics asks for it");
});

Deno.test("metrics registry: text format with escaped labels and cumulative buckets", async () => {
  const r = createRegistry();
  const c = r.counter("demo_total", "A demo.");
  c.inc({ path: 'a"b\\c\nd' });
  c.inc({ path: 'a"b\\c\nd' }, 2);
  const h = r.histogram("demo_seconds", "Durations.", [0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  r.gauge("demo_depth", "Depth.", () => Promise.resolve([{ labels: { q: "x" }, value: 7 }]));
  const text = await r.render();
  assert.equal(
    text,
    [
      "# HELP demo_total A demo.",
      "# TYPE demo_total counter",
      'demo_total{path="a\\"b\\\\c\\nd"} 3',
      "# HELP demo_seconds Durations.",
      "# TYPE demo_seconds histogram",
      'demo_seconds_bucket{le="0.1"} 1',
      'demo_seconds_bucket{le="1"} 2',
      'demo_seconds_bucket{le="+Inf"} 3',
      "demo_seconds_sum 5.55",
      "demo_seconds_count 3",
      "# HELP demo_depth Depth.",
      "# TYPE demo_depth gauge",
      'demo_depth{q="x"} 7',
      "",
    ].join("\n"),
  );
});

import assert from "node:assert/strict";
import { ConfigError } from "../src/config.ts";
import { destinationsFromConfig, sinkDepsFromConfig } from "../src/destinations/create.ts";
import { route } from "../src/destinations/destination.ts";
import { openKvStore } from "../src/store/kv.ts";
import { runMain } from "./helpers/cli.ts";
import { withTempDir } from "./helpers/relay_process.ts";
import {
  golden,
  sleep,
  startRelay,
  startStub,
  testConfig,
  waitForDelivery,
  withConfigFile,
  workspaceData,
} from "./helpers/stubs.ts";

const deps = { fetch, now: () => Date.now() };

function configError(env: Record<string, string>): string {
  try {
    testConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("env destinations get stable ids and their own filters", () => {
  const config = testConfig({
    EVENTS_TRACKED: "Workspace Created",
    SLACK_BOT_TOKEN: "xoxb-1",
    SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T/B/x",
    SLACK_EVENTS_TRACKED: "workspace  DELETED",
    WEBHOOK_URL: "https://example.com/hook",
  });
  const dests = destinationsFromConfig(sinkDepsFromConfig(config, deps));
  assert.deepEqual(dests.map((d) => d.id), ["platformx", "slack", "slack-webhook", "webhook"]);
  assert.ok(dests.every((d) => d.source === "env" && d.enabled));
  const slack = dests.find((d) => d.id === "slack")!;
  assert.equal(slack.sink.dedupeFanout, false, "DM mode: one message per recipient");
  assert.equal(slack.sink.allowsSecrets, true);
  const hook = dests.find((d) => d.id === "slack-webhook")!;
  assert.equal(hook.sink.dedupeFanout, true);
  assert.equal(hook.sink.allowsSecrets, false);
  const webhook = dests.find((d) => d.id === "webhook")!;
  assert.equal(webhook.sink.idempotent, true);
  assert.equal(webhook.sink.dedupeFanout, false);
  assert.equal(webhook.events.all, true, "WEBHOOK_EVENTS_TRACKED defaults to every event");
});

Deno.test("routing follows each destination's filter, case-insensitively", async () => {
  const config = testConfig({
    SLACK_BOT_TOKEN: "xoxb-1",
    SLACK_CHANNEL: "#ops",
    SLACK_EVENTS_TRACKED: "workspace  DELETED",
  });
  const dests = destinationsFromConfig(sinkDepsFromConfig(config, deps));
  const ids = async (file: string) =>
    route(dests, await golden(file, { data: workspaceData() })).map((d) => d.id);
  assert.deepEqual(await ids("TemplateWorkspaceCreated.json"), ["platformx"]);
  assert.deepEqual(await ids("TemplateWorkspaceDeleted.json"), ["slack"]);
  assert.deepEqual(await ids("TemplateTemplateDeleted.json"), []);
});

Deno.test("Slack without a filter gets every notification, as Coder's Slack bot does", () => {
  const dests = destinationsFromConfig(
    sinkDepsFromConfig(testConfig({ SLACK_BOT_TOKEN: "xoxb-1" }), deps),
  );
  assert.equal(dests.find((d) => d.id === "slack")?.events.all, true);
});

Deno.test("bad Slack/webhook variables stop start-up with their names, never their secrets", () => {
  assert.match(configError({ SLACK_CHANNEL: "#ops" }), /SLACK_CHANNEL: is set but SLACK_BOT_TOKEN/);
  assert.match(
    configError({ WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
    /WEBHOOK_SECRET: is set but WEBHOOK_URL/,
  );
  const bad = configError({ WEBHOOK_URL: "https://x.test/", WEBHOOK_SECRET: "hunter2-plain" });
  assert.match(bad, /WEBHOOK_SECRET: expected whsec_/);
  assert.ok(!bad.includes("hunter2"));
  assert.match(
    configError({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_ICON: "robot" }),
    /SLACK_ICON: expected :emoji: or an http\(s\) image URL/,
  );
  const url = configError({ SLACK_WEBHOOK_URL: "ftp://hooks/secret-path" });
  assert.match(url, /SLACK_WEBHOOK_URL: expected an http\(s\) URL/);
  assert.ok(!url.includes("secret-path"), "webhook URLs are secrets too");
});

Deno.test("RELAY_CONFIG: destinations from a file, with ids, filters and the enabled flag", async () => {
  const file = {
    destinations: [
      {
        id: "ops-channel",
        type: "slack",
        events: ["Workspace Deleted"],
        configuration: { token: "xoxb-ops", channel: "C0OPS", username: "Coder" },
      },
      {
        id: "audit",
        type: "webhook",
        configuration: {
          url: "https://audit.example.com/coder",
          secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
          headers: { "x-team": "platform" },
          format: "event",
        },
      },
      {
        id: "old-hook",
        type: "slack-webhook",
        enabled: false,
        configuration: { url: "https://hooks.slack.com/services/T/B/x" },
      },
    ],
  };
  await withConfigFile(file, async (path) => {
    const dests = destinationsFromConfig(
      sinkDepsFromConfig(testConfig({ RELAY_CONFIG: path }), deps),
    );
    assert.deepEqual(dests.map((d) => [d.id, d.type, d.source, d.enabled]), [
      ["platformx", "platformx", "env", true],
      ["ops-channel", "slack", "config", true],
      ["audit", "webhook", "config", true],
      ["old-hook", "slack-webhook", "config", false],
    ]);
    const env = await golden("TemplateWorkspaceDeleted.json");
    assert.deepEqual(route(dests, env).map((d) => d.id), ["ops-channel", "audit"]);
  });
});

Deno.test("RELAY_CONFIG errors name the path of the bad field", async () => {
  const cases: [unknown, RegExp][] = [
    [
      {
        destinations: [
          { id: "a", type: "webhook", configuration: { url: "https://ok.example" } },
          { id: "b", type: "webhook", configuration: { url: "not a url" } },
        ],
      },
      /destinations\[1\]\.configuration\.url: expected an http\(s\) URL/,
    ],
    [
      {
        destinations: [
          { id: "a", type: "webhook", configuration: { url: "https://a.example" } },
          { id: "a", type: "webhook", configuration: { url: "https://b.example" } },
        ],
      },
      /destinations\[1\]\.id: duplicate id "a"/,
    ],
    [
      { destinations: [{ id: "x", type: "pigeon", configuration: {} }] },
      /destinations\[0\]\.type: expected type .*"slack-webhook"/,
    ],
    [
      { destinations: [{ id: "x", type: "slack", configuration: { channel: "#c" } }] },
      // Worded as the admin API words the same problem.
      /destinations\[0\]\.configuration\.token: is required/,
    ],
    [
      { destinations: [{ id: "platformx", type: "platformx", configuration: { api_key: "k" } }] },
      /destinations\[0\]\.id: "platformx" is already defined by environment variables/,
    ],
    ["{ not json", /not valid JSON/],
  ];
  for (const [content, pattern] of cases) {
    await withConfigFile(content, (path) => {
      const message = configError({ RELAY_CONFIG: path });
      assert.match(message, /RELAY_CONFIG/);
      assert.match(message, pattern);
    });
  }
  assert.match(configError({ RELAY_CONFIG: "/nonexistent/relay.json" }), /cannot read/);
});

Deno.test("adding a destination never resends old messages", async () => {
  const dir = await Deno.makeTempDir();
  const store = `${dir}/relay.kv`;
  await using slack = startStub(() => Response.json({ ok: true }));
  await using px = startStub(() => Response.json({ ok: true }));
  try {
    const base = { RELAY_STORE: store, GETDX_API_URL: px.url };
    const old = await golden("TemplateWorkspaceCreated.json", { data: workspaceData() });
    {
      await using relay = await startRelay(testConfig(base), { store: await openKvStore(store) });
      assert.equal((await relay.post(old)).status, 202);
      await waitForDelivery(relay.app.store, old.msg_id, "sent", "platformx");
    }
    await using relay = await startRelay(
      testConfig({
        ...base,
        SLACK_BOT_TOKEN: "xoxb-test",
        SLACK_CHANNEL: "C1",
        SLACK_API_URL: slack.url,
      }),
      { store: await openKvStore(store) },
    );
    const fresh = await golden("TemplateWorkspaceDeleted.json");
    assert.equal((await relay.post(fresh)).status, 202);
    await waitForDelivery(relay.app.store, fresh.msg_id, "sent", "slack");
    await sleep(200);
    assert.equal(slack.seen.length, 1, "only the new message goes to the new destination");
    const m = await relay.app.store.getMessage(old.msg_id);
    assert.deepEqual(m?.deliveries.map((d) => d.destination), ["platformx"]);
    assert.equal(px.seen.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad RELAY_CONFIG stops the real process with status 78, naming the field", async () => {
  const file = { destinations: [{ id: "x", type: "webhook", configuration: { url: "nope" } }] };
  await withConfigFile(file, async (path) => {
    const out = await withTempDir((dir) =>
      runMain([], { RELAY_CONFIG: path, RELAY_STORE: ":memory:", PORT: "0" }, dir)
    );
    assert.equal(out.code, 78);
    assert.match(
      out.stderr,
      /RELAY_CONFIG \(.*relay\.json\) is invalid:\n\s+destinations\[0\]\.configuration\.url: expected an http\(s\) URL/,
    );
  });
});

/**
 * Previews: every destination type shows what it would send, offline, through the same routing and
 * rendering as delivery; `transform` and `POST /api/v1/preview` print it.
 */
import assert from "node:assert/strict";
import type { Envelope } from "../src/coder.ts";
import { sinkDepsFromConfig } from "../src/destinations/create.ts";
import type { Destination } from "../src/destinations/destination.ts";
import { createSink } from "../src/destinations/registry.ts";
import { previewDestination } from "../src/destinations/preview.ts";
import { adminCall, adminConfig } from "./helpers/admin.ts";
import { runMain } from "./helpers/cli.ts";
import { golden, startRelay, startStub, testConfig } from "./helpers/stubs.ts";

const noFetch: typeof fetch = () => {
  throw new Error("a preview must not use the network");
};

function destination(type: string, configuration: unknown): Destination {
  const deps = sinkDepsFromConfig(testConfig(), { fetch: noFetch, now: () => 1_700_000_000_000 });
  return {
    id: type,
    type,
    events: { all: true },
    enabled: true,
    source: "api",
    sink: createSink(type, configuration, deps),
  };
}

const preview = (d: Destination, env: Envelope) => previewDestination(d, env, 1_700_000_000_000);

Deno.test("preview: every destination type shows its body without network", async () => {
  const env = await golden("TemplateWorkspaceDeleted.json");
  const dm = preview(destination("slack", { token: "xoxb-t" }), env);
  const dmBody = dm.body as { channel: string; blocks: unknown[] };
  assert.match(dmBody.channel, /^<Slack user id of /);
  assert.ok(!JSON.stringify(dm).includes(env.payload.user_email!), "the email stays masked");
  assert.ok(dmBody.blocks.length > 0);
  const channel = preview(destination("slack", { token: "xoxb-t", channel: "#ops" }), env);
  assert.equal((channel.body as { channel: string }).channel, "#ops");
  const hook = preview(destination("slack-webhook", { url: "https://hooks.slack.com/s/x" }), env);
  assert.ok((hook.body as { blocks: unknown[] }).blocks.length > 0);
  assert.ok(!JSON.stringify(hook).includes("hooks.slack.com"), "the secret URL is not shown");

  const webhook = preview(
    destination("webhook", {
      url: "https://h.example/",
      secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      headers: { authorization: "Bearer very-secret" },
    }),
    env,
  );
  assert.equal((webhook.body as Envelope).msg_id, env.msg_id);
  assert.equal(webhook.headers?.["webhook-id"], env.msg_id);
  assert.match(webhook.headers?.["webhook-signature"] ?? "", /^v1,<HMAC/);
  assert.equal(webhook.headers?.authorization, "<configured>");
  assert.ok(!JSON.stringify(webhook).includes("very-secret"));
  const event = preview(
    destination("webhook", { url: "https://h.example/", format: "event" }),
    env,
  );
  assert.equal((event.body as { type: string }).type, "coder.workspace_deleted");
  const discord = preview(
    destination("webhook", { url: "https://h.example/", preset: "discord" }),
    env,
  );
  assert.match((discord.body as { content: string }).content, /^\*\*/);

  const teams = preview(destination("teams", { url: "https://x.logic.azure.com/w?sig=s" }), env);
  assert.equal(
    (teams.body as { attachments: { content: { type: string } }[] }).attachments[0].content.type,
    "AdaptiveCard",
  );
  const px = preview(destination("platformx", { api_key: "k" }), env);
  assert.equal((px.body as { email: string }).email, env.payload.user_email);
});

Deno.test("preview: a one-time passcode shows what the rule does, never the code", async () => {
  const otp = await golden("TemplateUserRequestedOneTimePasscode.json");
  const code = otp.payload.labels?.one_time_passcode;
  assert.ok(code);
  for (
    const d of [
      destination("teams", { url: "https://x.example/w" }),
      destination("webhook", { url: "https://h.example/", preset: "mattermost" }),
      destination("slack", { token: "xoxb-t", channel: "#ops" }),
    ]
  ) {
    const p = previewDestination(d, otp, 0, true);
    assert.equal(p.routed, false);
    assert.equal(p.body, undefined);
    assert.match(p.note ?? "", /only ever goes as a Slack DM/);
    assert.ok(!JSON.stringify(p).includes(code));
  }
  const dm = preview(destination("slack", { token: "xoxb-t" }), otp);
  assert.equal(dm.routed, true, "the recipient's DM does carry it");
});

Deno.test("preview: POST /api/v1/preview by type, by id, and for everything; nothing sent", async () => {
  await using flow = startStub(() => new Response(null, { status: 202 }));
  await using relay = await startRelay(adminConfig({ TEAMS_WEBHOOK_URL: flow.url }));
  const message = await golden("TemplateWorkspaceAutobuildFailed.json");
  const byType = await adminCall(relay.url, "POST", "/api/v1/preview", {
    message,
    type: "webhook",
    configuration: { url: "https://h.example/", template: { text: "{{title}}!" } },
  });
  assert.equal(byType.status, 200, byType.text);
  assert.deepEqual(byType.json.destinations[0].body, { text: `${message.title}!` });
  const byId = await adminCall(relay.url, "POST", "/api/v1/preview", {
    message,
    destination: "teams",
  });
  assert.equal(byId.status, 200, byId.text);
  assert.equal(byId.json.destinations[0].body.type, "message");
  assert.ok(!byId.text.includes(flow.url), "the flow URL is a secret");
  const all = await adminCall(relay.url, "POST", "/api/v1/preview", { message });
  assert.deepEqual(all.json.destinations.map((d: { destination: string }) => d.destination), [
    "platformx",
    "teams",
  ]);
  const bad = await adminCall(relay.url, "POST", "/api/v1/preview", {
    message,
    type: "webhook",
    configuration: { url: "https://h.example/", template: "{{title}}" },
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.details.issues[0].path, "configuration.template");
  const badMessage = await adminCall(relay.url, "POST", "/api/v1/preview", {
    message: { hello: 1 },
  });
  assert.equal(badMessage.status, 400);
  const unknown = await adminCall(relay.url, "POST", "/api/v1/preview", {
    message,
    destination: "nope",
  });
  assert.equal(unknown.status, 404);
  const anonymous = await fetch(`${relay.url}/api/v1/preview`, {
    method: "POST",
    body: JSON.stringify({ message, destination: "teams" }),
  });
  assert.equal(anonymous.status, 401, "the admin token guards previews like the rest of /api/v1");
  await anonymous.body?.cancel();
  assert.equal(flow.seen.length, 0, "a preview never sends");
});

Deno.test("preview: transform shows the Teams card offline", async () => {
  await using flow = startStub(() => new Response(null, { status: 202 }));
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/msg.json`;
    await Deno.writeTextFile(file, JSON.stringify(await golden("TemplateWorkspaceDeleted.json")));
    const run = await runMain(["transform", file], {
      TEAMS_WEBHOOK_URL: flow.url,
      WEBHOOK_URL: "http://127.0.0.1:9/hook",
      WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      RELAY_STORE: `${dir}/relay.kv`,
    }, dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /== teams \(teams\)\n\{\n {2}"type": "message"/);
    assert.match(run.stdout, /== webhook \(webhook\)\nwebhook-id: .*\nwebhook-timestamp: \d+\n/);
    assert.match(run.stdout, /webhook-signature: v1,<HMAC/);
    assert.ok(!run.stdout.includes("no offline preview"));
    assert.equal(flow.seen.length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

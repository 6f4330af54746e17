/**
 * Microsoft Teams: every golden Coder body becomes a valid, bounded Adaptive Card; a stub Workflows
 * endpoint shows how answers are read (202 sent, 429 waits for Retry-After, 404 disables).
 */
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import type { Envelope } from "../src/coder.ts";
import { isSecretMessage } from "../src/coder.ts";
import { ConfigError, parseConfig } from "../src/config.ts";
import { destinationsFromConfig, sinkDepsFromConfig } from "../src/destinations/create.ts";
import {
  markdownToTextBlock,
  renderTeamsMessage,
  TEAMS_LIMITS,
  TRUNCATED_MARKER,
} from "../src/sinks/teams_card.ts";
import { adminCall, adminConfig } from "./helpers/admin.ts";
import {
  golden,
  goldenFiles,
  sequence,
  startRelay,
  startStub,
  testConfig,
  waitForDelivery,
} from "./helpers/stubs.ts";

const schema = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/adaptive-card.schema.json", import.meta.url)),
);
// The schema is draft-06 with a draft-04 style `id`: validate its keywords, not its dialect.
delete schema.$schema;
delete schema.id;
const validateCard = new Ajv({ strict: false, allErrors: true }).compile(schema);

/** Every check a card must pass, whatever the message. */
function assertGoodCard(name: string, envelope: Envelope) {
  const message = renderTeamsMessage(envelope);
  const text = JSON.stringify(message);
  assert.deepEqual(JSON.parse(text), message, `${name}: plain JSON`);
  assert.ok(new TextEncoder().encode(text).byteLength <= 28 * 1024, `${name}: within 28 KB`);
  assert.equal(message.type, "message");
  assert.equal(message.attachments.length, 1);
  const [attachment] = message.attachments;
  assert.equal(attachment.contentType, "application/vnd.microsoft.card.adaptive");
  const card = attachment.content;
  assert.ok(validateCard(card), `${name}: ${JSON.stringify(validateCard.errors)}`);
  assert.equal(card.version, "1.4");
  assert.equal(card.body[0].type, "TextBlock");
  for (const action of card.actions ?? []) {
    assert.equal(action.type, "Action.OpenUrl");
    assert.match(action.url, /^https?:\/\//, `${name}: ${action.url}`);
  }
  assert.ok((card.actions ?? []).length <= TEAMS_LIMITS.actions);
  const facts = card.body.find((e) => e.type === "FactSet");
  if (facts?.type === "FactSet") assert.ok(facts.facts.length <= TEAMS_LIMITS.facts);
  const code = envelope.payload.labels?.one_time_passcode;
  if (code) assert.ok(!text.includes(code), `${name}: the passcode never goes to Teams`);
  return message;
}

Deno.test("teams card: every golden body is a valid, bounded card without passcodes", async () => {
  const files = await goldenFiles();
  let secrets = 0;
  for (const [name, envelope] of files) {
    assertGoodCard(name, envelope);
    if (isSecretMessage(envelope.payload)) secrets++;
  }
  assert.ok(secrets >= 1, "the golden set has a one-time passcode message");
});

Deno.test("teams card: title, body, labels and actions where Teams shows them", async () => {
  const env = await golden("TemplateWorkspaceAutobuildFailed.json");
  const card = assertGoodCard("autobuild", env).attachments[0].content;
  assert.equal(card.body[0].type === "TextBlock" && card.body[0].weight, "bolder");
  assert.ok(card.body.some((e) => e.type === "FactSet"));
  assert.ok((card.actions ?? []).length > 0);
});

Deno.test("teams card: markdown becomes what a TextBlock renders, user text stays literal", () => {
  assert.equal(markdownToTextBlock("**Bold** and *it* and `code`"), "**Bold** and _it_ and code");
  assert.equal(markdownToTextBlock("# Heading\n* one\n* two"), "**Heading**\n- one\n- two");
  assert.equal(
    markdownToTextBlock("[Open](https://coder.example/ws) [js](javascript:alert(1))"),
    "[Open](https://coder.example/ws) js",
  );
  // Coder's escapes (a user named `*evil*[x](https://evil)`) never become markup.
  assert.equal(
    markdownToTextBlock("\\*evil\\*\\[x\\](https://evil)"),
    "\\*evil\\*\\[x\\](https://evil)",
  );
  assert.equal(markdownToTextBlock("a <b> ~~c~~ snake_case"), "a \\<b\\> c snake\\_case");
  assert.equal(
    markdownToTextBlock("- list\n1. one\nplain\nnext"),
    "- list\n1. one\n\nplain\n\nnext",
  );
});

Deno.test("teams card: oversized messages are cut with a visible marker, never refused", async () => {
  const env = await golden("TemplateWorkspaceBuildsFailedReport.json");
  const huge: Envelope = {
    ...env,
    title: "t".repeat(5000),
    body_markdown: "**ä** ".repeat(20_000),
    payload: {
      ...env.payload,
      labels: Object.fromEntries(
        Array.from({ length: 50 }, (_, i) => [`k${i}`.repeat(80), "€".repeat(2000)]),
      ),
      actions: Array.from({ length: 30 }, (_, i) => ({
        label: "x".repeat(500),
        url: i % 2 ? `https://coder.example/${i}` : `ftp://coder.example/${i}`,
      })),
    },
  };
  const card = assertGoodCard("huge", huge).attachments[0].content;
  const texts = card.body.flatMap((e) => e.type === "TextBlock" ? [e.text] : []);
  assert.ok(texts.some((t) => t.endsWith(TRUNCATED_MARKER)));
  assert.equal(Array.from(texts[0]).length, TEAMS_LIMITS.title);
});

Deno.test("teams: TEAMS_WEBHOOK_URL defines destination teams; the URL is never echoed", () => {
  const url = "https://prod-01.westus.logic.azure.com/workflows/abc/triggers/manual?sig=SECRETSIG";
  const config = testConfig({ TEAMS_WEBHOOK_URL: url, TEAMS_EVENTS_TRACKED: "Workspace Deleted" });
  const [d] = destinationsFromConfig(sinkDepsFromConfig(config, { fetch, now: Date.now }))
    .filter((d) => d.id === "teams");
  assert.equal(d.type, "teams");
  assert.equal(d.events.all, false);
  assert.ok(!d.description?.includes("SECRETSIG"));
  assert.throws(
    () => parseConfig({ TEAMS_WEBHOOK_URL: "ftp://x/?sig=SECRETSIG" }),
    (err: Error) =>
      err instanceof ConfigError &&
      /TEAMS_WEBHOOK_URL: expected an http\(s\) URL/.test(err.message) &&
      !err.message.includes("SECRETSIG"),
  );
});

function teamsConfig(url: string) {
  return testConfig({ TEAMS_WEBHOOK_URL: url, GETDX_API_KEY: "", EVENTS_TRACKED: "no such event" });
}

Deno.test("teams: a stub Workflows endpoint gets the card; 202 is sent", async () => {
  await using flow = startStub(() => new Response(null, { status: 202 }));
  await using relay = await startRelay(
    teamsConfig(`${flow.url}/workflows/abc/triggers/manual?sig=s`),
  );
  const env = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(env)).status, 202);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "sent", "teams");
  assert.equal(d.attempts, 1);
  assert.equal(flow.seen[0].path, "/workflows/abc/triggers/manual?sig=s");
  assert.equal(flow.seen[0].headers.get("content-type"), "application/json");
  const body = JSON.parse(flow.seen[0].body);
  assert.equal(body.attachments[0].content.type, "AdaptiveCard");
});

Deno.test("teams: 429 with Retry-After waits that long, then posts once", async () => {
  await using flow = startStub(sequence(
    () => new Response("busy", { status: 429, headers: { "retry-after": "1" } }),
    () => new Response(null, { status: 202 }),
  ));
  await using relay = await startRelay(teamsConfig(flow.url));
  const env = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(env)).status, 202);
  const d = await waitForDelivery(relay.app.store, env.msg_id, "sent", "teams");
  assert.equal(d.attempts, 2);
  assert.equal(flow.seen.length, 2);
  const gap = flow.seen[1].at - flow.seen[0].at;
  assert.ok(gap >= 950, `retried after ${gap} ms, Retry-After said 1000`);
});

Deno.test("teams: a deleted flow (404) disables the destination; a 400 fails one message", async () => {
  let status = 400;
  await using flow = startStub(() => new Response("nope", { status }));
  await using relay = await startRelay(teamsConfig(flow.url));
  const disabled = async () => (await relay.app.store.getPause()).disabled?.teams;
  const bad = await golden("TemplateWorkspaceDeleted.json");
  assert.equal((await relay.post(bad)).status, 202);
  const failed = await waitForDelivery(relay.app.store, bad.msg_id, "permanent_failure", "teams");
  assert.match(failed.statusReason ?? "", /Teams workflow answered HTTP 400/);
  assert.equal(await disabled(), undefined);

  status = 404;
  const gone = await golden("TemplateWorkspaceDormant.json");
  assert.equal((await relay.post(gone)).status, 202);
  const d = await waitForDelivery(relay.app.store, gone.msg_id, "permanent_failure", "teams");
  assert.match(
    d.statusReason ?? "",
    /HTTP 404: nope: destination disabled until it is edited or resumed/,
  );
  assert.ok(await disabled(), "the destination is disabled");
  assert.equal(flow.seen.length, 2);
});

Deno.test("teams: a one-time passcode is never routed to Teams", async () => {
  await using flow = startStub(() => new Response(null, { status: 202 }));
  await using relay = await startRelay(teamsConfig(flow.url));
  const otp = await golden("TemplateUserRequestedOneTimePasscode.json");
  const res = await relay.post(otp);
  assert.equal(res.status, 200, "no destination takes it: nothing stored");
  assert.equal(flow.seen.length, 0);
});

Deno.test("teams: the admin API takes the flow URL and never returns it", async () => {
  await using relay = await startRelay(adminConfig());
  const url = "https://prod-01.westus.logic.azure.com/workflows/abc?sig=SECRETSIG123";
  const created = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "teams-ops",
    event_types: ["*"],
    type: "teams",
    configuration: { url },
  });
  assert.equal(created.status, 201, created.text);
  const got = await adminCall(relay.url, "GET", `/api/v1/webhooks/${created.json.id}`);
  for (const answer of [created, got]) {
    assert.ok(!answer.text.includes("SECRETSIG"), answer.text);
    assert.ok(!answer.text.includes("logic.azure.com"), answer.text);
  }
  const bad = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "teams-ops",
    event_types: ["*"],
    type: "teams",
    configuration: { url: "javascript:alert(1)" },
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.details.issues[0].path, "configuration.url");
});

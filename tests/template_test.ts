/**
 * Webhook body templates: JSON-safe escaping, refusal at creation of anything that could fail or
 * reach beyond the envelope, presets that render valid JSON for every golden body.
 */
import assert from "node:assert/strict";
import type { Envelope } from "../src/coder.ts";
import { parseConfigFile } from "../src/config_file.ts";
import { webhook } from "../src/sinks/webhook.ts";
import {
  PRESET_NAMES,
  PRESETS,
  renderTemplate,
  SUMMARY_CHARS,
  templateProblem,
} from "../src/sinks/template.ts";
import { adminCall, adminConfig } from "./helpers/admin.ts";
import {
  golden,
  goldenFiles,
  startRelay,
  startStub,
  testConfig,
  waitForDelivery,
  withConfigFile,
} from "./helpers/stubs.ts";

const NASTY = 'a "quoted" \\ back\nnew\tline </script><!-- & \u2028 é 🚀 \u0000';

async function nasty(): Promise<Envelope> {
  const env = await golden("TemplateWorkspaceDeleted.json", {
    labels: { name: NASTY, "odd key": "v" },
    actions: [{ label: NASTY, url: "https://coder.example/a?b=1&c=</script>" }, {
      label: "js",
      url: "javascript:alert(1)",
    }],
  });
  return { ...env, title: NASTY, body: NASTY, body_markdown: NASTY };
}

Deno.test("template: values are JSON string content, whatever they hold", async () => {
  const env = await nasty();
  const template = JSON.stringify({
    title: "{{title}}",
    label: "{{labels.name}}",
    mixed: "[{{notification_name}}] {{body}}",
    actions: "{{{actions_json}}}",
  }).replace('"{{{actions_json}}}"', "{{{actions_json}}}");
  assert.equal(templateProblem(template), undefined);
  const out = renderTemplate(template, env, 0);
  assert.ok(!out.includes("</script>"), "no literal </script> in the output");
  assert.ok(!out.includes("\u2028"));
  const json = JSON.parse(out);
  assert.equal(json.title, NASTY);
  assert.equal(json.label, NASTY);
  assert.equal(json.mixed, `[Workspace Deleted] ${NASTY}`);
  assert.deepEqual(json.actions, [{
    label: NASTY,
    url: "https://coder.example/a?b=1&c=</script>",
  }]);
});

Deno.test("template: sections over actions and labels; an object template is stringified", () => {
  const parsed = webhook.schema.parse({
    url: "https://hooks.example.com/x",
    template: {
      text: "{{title}}{{#actions}} <{{url}}|{{label}}>{{/actions}}",
      fields: "{{#labels_list}}{{key}}={{value}};{{/labels_list}}",
    },
  });
  assert.equal(typeof parsed.template, "string");
  const env: Envelope = {
    _version: "1.1",
    msg_id: "m",
    title: "T",
    body: "",
    payload: {
      _version: "1.1",
      notification_name: "n",
      actions: [{ label: "L", url: "https://x.example/" }],
      labels: { a: "1", b: "2" },
    },
  };
  assert.deepEqual(JSON.parse(renderTemplate(parsed.template!, env, 0)), {
    text: "T <https://x.example/|L>",
    fields: "a=1;b=2;",
  });
});

Deno.test("template: refused at creation, naming the field, when it could fail or overreach", () => {
  const cases: [unknown, RegExp][] = [
    ['{"text": {{title}}}', /does not render to valid JSON/],
    ['{"a": [{{#actions}}"{{url}}",{{/actions}}]}', /does not render to valid JSON/],
    ['{"text": "{{{title}}}"}', /inserts text unescaped/],
    ['{"text": "{{&body}}"}', /inserts text unescaped/],
    ['{"text": "{{> secrets}}"}', /partials/],
    ['{"text": "{{payload.data.parameters}}"}', /unknown placeholder/],
    ['{"text": "{{constructor}}"}', /unknown placeholder/],
    ['{"text": "{{actions.length}}"}', /unknown placeholder/],
    ['{"text": "{{#title}}"}', /not a valid template/],
    ['{"t": "{{#actions}}{{#labels_list}}x{{/labels_list}}{{/actions}}"}', /may not be nested/],
    ["not json {{title}}", /does not render to valid JSON/],
  ];
  for (const [template, pattern] of cases) {
    const r = webhook.schema.safeParse({ url: "https://h.example/", template });
    assert.ok(!r.success, String(template));
    assert.deepEqual(r.error.issues[0].path, ["template"], String(template));
    assert.match(r.error.issues[0].message, pattern, String(template));
  }
  const both = webhook.schema.safeParse({
    url: "https://h.example/",
    template: "{}",
    preset: "discord",
  });
  assert.ok(!both.success);
  assert.deepEqual(both.error.issues[0].path, ["preset"]);
});

Deno.test("template: a RELAY_CONFIG file names destinations[N].configuration.template", () => {
  const file = JSON.stringify({
    destinations: [{
      id: "chat",
      type: "webhook",
      configuration: { url: "https://h.example/", template: '{"text": {{title}}}' },
    }],
  });
  assert.throws(
    () => parseConfigFile(file, new Set()),
    /destinations\[0\]\.configuration\.template: does not render to valid JSON/,
  );
});

Deno.test("presets: valid JSON for every golden body, within the chat tools' limits", async () => {
  const files = await goldenFiles();
  files.set("nasty", await nasty());
  for (const name of PRESET_NAMES) {
    assert.equal(templateProblem(PRESETS[name]), undefined, name);
    for (const [file, env] of files) {
      const json = JSON.parse(renderTemplate(PRESETS[name], env, 0));
      const text = json.text ?? json.content;
      assert.equal(typeof text, "string", `${name} ${file}`);
      assert.ok(text.length > 0);
      assert.ok(!text.includes("hunter2"), "no build parameters");
    }
  }
  const report = files.get("TemplateWorkspaceBuildsFailedReport.json")!;
  const discord = JSON.parse(
    renderTemplate(PRESETS.discord, { ...report, body_markdown: "x".repeat(9000) }, 0),
  );
  assert.ok(Array.from(discord.content as string).length <= SUMMARY_CHARS);
  assert.deepEqual(discord.allowed_mentions, { parse: [] }, "no @everyone from a display name");
});

Deno.test("template: the admin API answers 400 naming configuration.template; nothing stored", async () => {
  await using relay = await startRelay(adminConfig());
  const bad = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "chat",
    event_types: ["*"],
    type: "webhook",
    configuration: { url: "https://hooks.example.com/x", template: '{"text": {{title}}}' },
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.details.issues[0].path, "configuration.template");
  const ok = await adminCall(relay.url, "POST", "/api/v1/webhooks/", {
    name: "chat",
    event_types: ["*"],
    type: "webhook",
    configuration: { url: "https://hooks.example.com/x", preset: "mattermost" },
  });
  assert.equal(ok.status, 201, ok.text);
  const list = await adminCall(relay.url, "GET", "/api/v1/webhooks/");
  assert.equal(list.text.match(/"name":"chat"/g)?.length, 1, "the bad one was not stored");
});

Deno.test("template: a preset destination posts the rendered body, signed", async () => {
  await using chat = startStub(() => new Response("ok"));
  const file = {
    destinations: [{
      id: "discord",
      type: "webhook",
      configuration: {
        url: `${chat.url}/api/webhooks/1/t`,
        preset: "discord",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      },
    }],
  };
  await withConfigFile(file, async (path) => {
    await using relay = await startRelay(
      testConfig({ RELAY_CONFIG: path, GETDX_API_KEY: "", EVENTS_TRACKED: "none" }),
    );
    const env = await golden("TemplateWorkspaceDeleted.json");
    assert.equal((await relay.post(env)).status, 202);
    await waitForDelivery(relay.app.store, env.msg_id, "sent", "discord");
    const [req] = chat.seen;
    const body = JSON.parse(req.body);
    assert.match(body.content, /^\*\*Workspace ".*" deleted\*\*/);
    assert.ok(req.headers.get("webhook-signature")?.startsWith("v1,"));
  });
});

import assert from "node:assert/strict";
import type { Envelope } from "../src/coder.ts";
import {
  markdownToMrkdwn,
  renderSlackMessage,
  SLACK_LIMITS,
  type SlackMessage,
} from "../src/sinks/slack_message.ts";
import { golden, goldenFiles } from "./helpers/stubs.ts";

const chars = (s: string) => Array.from(s).length;

/** Every limit Slack enforces on what we build; throws naming the first one broken. */
function assertWithinLimits(msg: SlackMessage, what: string) {
  assert.ok(msg.text.length > 0 && chars(msg.text) <= SLACK_LIMITS.text, `${what}: text`);
  assert.ok(msg.blocks.length >= 1 && msg.blocks.length <= 50, `${what}: block count`);
  for (const b of msg.blocks) {
    if (b.type === "header") {
      assert.ok(b.text.text.length > 0 && chars(b.text.text) <= 150, `${what}: header`);
    } else if (b.type === "section") {
      assert.ok(b.text.text.length > 0 && chars(b.text.text) <= 3000, `${what}: section`);
    } else {
      assert.ok(b.elements.length >= 1 && b.elements.length <= 25, `${what}: actions`);
      for (const e of b.elements) {
        assert.ok(e.text.text.length > 0 && chars(e.text.text) <= 75, `${what}: button text`);
        assert.ok(e.url.length <= 3000 && /^https?:\/\/\S+$/.test(e.url), `${what}: ${e.url}`);
        assert.ok(!/[<>| ]/.test(e.url), `${what}: url must be encoded: ${e.url}`);
      }
    }
  }
}

Deno.test("every golden Coder message renders within Slack's limits", async () => {
  const files = await goldenFiles();
  assert.ok(files.size >= 20);
  for (const [name, env] of files) {
    const msg = renderSlackMessage(env);
    assertWithinLimits(msg, name);
    assert.equal(msg.blocks[0].type, "header", name);
    const section = msg.blocks.find((b) => b.type === "section");
    assert.ok(section, `${name}: body section`);
    assert.ok(!/\*\*/.test(JSON.stringify(section)), `${name}: no markdown bold left`);
    const actions = env.payload.actions ?? [];
    const buttons = msg.blocks.find((b) => b.type === "actions");
    assert.equal(buttons?.elements.length ?? 0, actions.length, `${name}: one button per action`);
  }
});

Deno.test("golden report: bold, links and bullets become Slack mrkdwn", async () => {
  const env = await golden("TemplateWorkspaceBuildsFailedReport.json");
  const section = renderSlackMessage(env).blocks[1];
  assert.equal(section.type, "section");
  const text = section.text.text;
  assert.match(text, /^The following templates/);
  assert.match(text, /• \*Bobby First Template\* failed to build 4\/55 times/);
  assert.match(
    text,
    /<http:\/\/test\.com\/@mtojek\/workspace-1\/builds\/1234\|mtojek \/ workspace-1 \/ #1234>/,
  );
  assert.ok(!text.includes("\n\n\n"), "blank-line runs collapse");
  // The "View workspaces" action carries Go's "<no value>": it must still be a valid URL.
  const actions = renderSlackMessage(env).blocks.find((b) => b.type === "actions");
  assert.equal(
    actions?.elements[0].url,
    "http://test.com/workspaces?filter=template%3A%3Cno%20value%3E",
  );
});

Deno.test("markdown to mrkdwn: the constructs Coder's templates use", () => {
  const cases: [string, string][] = [
    ["**b**", "*b*"],
    ["__b__", "*b*"],
    ["*i* and _i_", "_i_ and _i_"],
    ["~~gone~~", "~gone~"],
    ["[**dormant**](https://coder.com/docs#x)", "<https://coder.com/docs#x|*dormant*>"],
    ["# Report", "*Report*"],
    ["- one\n   - two", "• one\n   • two"],
    ["`a<b`", "`a&lt;b`"],
    ["Tom & Jerry <3", "Tom &amp; Jerry &lt;3"],
    ["my_snake_case_name", "my_snake_case_name"],
    ["5 * 3 = 15", "5 * 3 = 15"],
    ["[t](javascript:alert(1))", "t"],
  ];
  for (const [md, want] of cases) assert.equal(markdownToMrkdwn(md), want, md);
});

Deno.test("user-controlled names never become links, mentions or broadcasts", () => {
  // Coder backslash-escapes markdown in labels and names before they reach body_markdown.
  const evil = String
    .raw`User **\[click me\](https://evil.example) <!channel> <@U123>** was created`;
  const text = markdownToMrkdwn(evil);
  assert.ok(!text.includes("<https://evil.example"), text);
  assert.ok(!text.includes("<!channel>") && !text.includes("<@U123>"), text);
  assert.match(text, /&lt;!channel&gt; &lt;@U123&gt;/);
  assert.match(text, /\[click me\]\(https:\/\/evil\.example\)/);

  const env: Envelope = {
    _version: "1.1",
    msg_id: "m",
    title: "<!here> hi",
    body: "<!here> & co",
    payload: { _version: "1.2", notification_name: "x", actions: [] },
  };
  const msg = renderSlackMessage(env);
  assert.ok(!msg.text.includes("<!here>"), "fallback text is escaped too");
  assert.match(msg.text, /&lt;!here&gt;/);
});

Deno.test("huge content is truncated to Slack's limits, never refused", async () => {
  const base = await golden("TemplateWorkspaceDormant.json");
  const link = "[x](https://example.com/" + "a".repeat(50) + ")";
  const env: Envelope = {
    ...base,
    title: "T".repeat(400),
    body: "b".repeat(10_000),
    body_markdown: `${"**bold** & ".repeat(200)}${link.repeat(100)}`,
    payload: {
      ...base.payload,
      actions: Array.from({ length: 40 }, (_, i) => ({
        label: `Action ${i} ${"L".repeat(100)}`,
        url: `https://example.com/${i}`,
      })).concat([{ label: "too long", url: `https://example.com/${"u".repeat(3100)}` }]),
    },
  };
  const msg = renderSlackMessage(env);
  assertWithinLimits(msg, "huge");
  const header = msg.blocks[0];
  assert.equal(header.type, "header");
  assert.ok(header.text.text.endsWith("…"));
  const section = msg.blocks[1];
  assert.equal(section.type, "section");
  assert.ok(section.text.text.endsWith("…"));
  const opens = (section.text.text.match(/</g) ?? []).length;
  const closes = (section.text.text.match(/>/g) ?? []).length;
  assert.equal(opens, closes, "no half link left at the cut");
  assert.ok(!/&[a-z]{0,3}…$/.test(section.text.text), "no half entity left at the cut");
  const actions = msg.blocks[2];
  assert.equal(actions.type, "actions");
  assert.equal(actions.elements.length, 25);
});

Deno.test("an old 1.0 message without body_markdown uses the plain body, escaped", async () => {
  const env = await golden("Version1.0WorkspaceDeleted.json");
  const msg = renderSlackMessage(env);
  assertWithinLimits(msg, "1.0");
  const section = msg.blocks[1];
  assert.equal(section.type, "section");
  assert.ok(section.text.text.length > 0);
});

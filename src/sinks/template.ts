/**
 * Body templates for the `webhook` type: JSON text with Mustache placeholders (`{{title}}`,
 * `{{labels.workspace}}`, `{{#actions}}…{{/actions}}`), so Mattermost, Discord, Google Chat or an
 * internal tool get the shape they take without code. Mustache is logic-less: no expressions, and
 * here no partials and no lambdas either: the view holds only strings and plain records copied
 * from the envelope (null prototypes, nothing inherited), and every name a template uses is checked
 * against it when the destination is created.
 *
 * `{{name}}` inserts a value as JSON string content (quotes, backslashes, control characters, `<`,
 * `>`, `&`, U+2028/2029 escaped), so it belongs inside a JSON string. Structured values come
 * pre-serialised as `*_json` (`{{{actions_json}}}`, `{{{labels_json}}}`): the only names a triple
 * mustache or `{{&…}}` may insert unescaped, because they are JSON already.
 *
 * @module
 */
// @ts-types="npm:@types/mustache@^4.2.6"
import Mustache from "mustache";
import type { Envelope } from "../coder.ts";
import { truncate } from "./markdown.ts";
import discord from "../presets/discord.json" with { type: "json" };
import googleChat from "../presets/google-chat.json" with { type: "json" };
import mattermost from "../presets/mattermost.json" with { type: "json" };

// Templates are few (one per destination) but the admin API can check any number: no global cache.
Mustache.templateCache = undefined;

/** Templates shipped as data: each preset file is itself a template. */
export const PRESETS = {
  mattermost: JSON.stringify(mattermost),
  discord: JSON.stringify(discord),
  "google-chat": JSON.stringify(googleChat),
} as const;

/** A preset's name. */
export type PresetName = keyof typeof PRESETS;

/** Every preset name, for the configuration schema. */
export const PRESET_NAMES = Object.keys(PRESETS) as [PresetName, ...PresetName[]];

/** Bounds of the `*_short` and `summary_markdown` fields: chat tools refuse longer messages. */
export const SHORT_CHARS = 1500;
/** Discord refuses `content` above 2000 characters. */
export const SUMMARY_CHARS = 1900;

const TOP_LEVEL = new Set([
  "msg_id",
  "notification_name",
  "notification_template_id",
  "title",
  "title_markdown",
  "body",
  "body_markdown",
  "body_short",
  "body_markdown_short",
  "summary_markdown",
  "timestamp",
  "user_id",
  "user_name",
  "user_username",
  "user_email",
  "labels",
  "labels_list",
  "labels_json",
  "actions",
  "actions_json",
]);
/** Lists a section iterates over, at most {@link MAX_ITEMS} items each and never nested. */
const LISTS = new Set(["actions", "labels_list"]);
/** Output stays linear in the message: lists are capped and a list section may not nest another. */
export const MAX_ITEMS = 100;
/** Names valid inside `{{#labels_list}}` and `{{#actions}}` sections. */
const ITEM_NAMES = new Set(["key", "value", "label", "url", "."]);

type View = Record<string, unknown>;

function record(entries: Iterable<[string, unknown]>): View {
  const out = Object.create(null) as View;
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** The template's view of one message: envelope fields only, never `data` (build parameters). */
export function templateView(envelope: Envelope, receivedAt: number): View {
  const p = envelope.payload;
  const labels = Object.entries(p.labels ?? {}).slice(0, MAX_ITEMS).map((
    [k, v],
  ) => [k, String(v)] as [string, string]);
  const actions = (p.actions ?? []).flatMap((a) =>
    /^https?:\/\//i.test(a.url.trim()) ? [{ label: a.label, url: a.url.trim() }] : []
  ).slice(0, MAX_ITEMS);
  const markdown = envelope.body_markdown?.trim() ? envelope.body_markdown : envelope.body;
  const summary = [
    `**${envelope.title.trim()}**`,
    markdown.trim(),
    ...actions.map((a) => `[${a.label}](${a.url})`),
  ].filter((s) => s !== "").join("\n\n");
  return record([
    ["msg_id", envelope.msg_id],
    ["notification_name", p.notification_name],
    ["notification_template_id", p.notification_template_id ?? ""],
    ["title", envelope.title],
    ["title_markdown", envelope.title_markdown ?? envelope.title],
    ["body", envelope.body],
    ["body_markdown", markdown],
    ["body_short", truncate(envelope.body.trim(), SHORT_CHARS)],
    ["body_markdown_short", truncate(markdown.trim(), SHORT_CHARS)],
    ["summary_markdown", truncate(summary, SUMMARY_CHARS)],
    ["timestamp", new Date(receivedAt).toISOString()],
    ["user_id", p.user_id ?? ""],
    ["user_name", p.user_name ?? ""],
    ["user_username", p.user_username ?? ""],
    ["user_email", p.user_email ?? ""],
    ["labels", record(labels)],
    ["labels_list", labels.map(([key, value]) => record([["key", key], ["value", value]]))],
    ["labels_json", safeJson(Object.fromEntries(labels))],
    ["actions", actions.map((a) => record([["label", a.label], ["url", a.url]]))],
    ["actions_json", safeJson(actions)],
  ]);
}

/** A value as the content of a JSON string, also safe inside HTML `<script>`. */
export function jsonStringContent(value: unknown): string {
  return safeJson(String(value)).slice(1, -1);
}

/** JSON text without `<`, `>`, `&`, U+2028/2029 (escaped: they only occur inside strings). */
function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Renders a checked template for one message. The output is JSON text. */
export function renderTemplate(template: string, envelope: Envelope, receivedAt: number): string {
  return Mustache.render(template, templateView(envelope, receivedAt), {}, {
    escape: jsonStringContent,
  });
}

type Token = [string, string, number, number, Token[]?, ...unknown[]];

/** Names a template uses that the view does not offer, or constructs it may not use. */
function tokenProblems(tokens: Token[], inSection: boolean, inList = false): string[] {
  const problems: string[] = [];
  for (const [kind, name, , , children] of tokens) {
    if (kind === "text" || kind === "!" || kind === "=") continue;
    if (kind === ">") {
      problems.push(`partials ({{> ${name}}}) are not supported`);
      continue;
    }
    const [first, ...rest] = name.split(".");
    const known = TOP_LEVEL.has(first) || (inSection && ITEM_NAMES.has(name));
    const nested = rest.length === 0 || (first === "labels" && rest.length === 1);
    if (!known || !nested) problems.push(`unknown placeholder {{${name}}}`);
    if (kind === "&" && !name.endsWith("_json")) {
      problems.push(
        `{{{${name}}}} inserts text unescaped: only *_json values may (use {{${name}}} in a string)`,
      );
    }
    const list = kind === "#" && LISTS.has(name);
    if (list && inList) problems.push(`{{#${name}}} may not be nested in another list section`);
    if ((kind === "#" || kind === "^") && children) {
      problems.push(...tokenProblems(children, inSection || kind === "#", inList || list));
    }
  }
  return problems;
}

/** A sample message with every field, and one with none of the optional ones. */
const SAMPLES: Envelope[] = [
  {
    _version: "1.1",
    msg_id: "00000000-0000-4000-8000-000000000000",
    title: 'Workspace "dev" deleted',
    title_markdown: 'Workspace "dev" deleted',
    body: "Hi Bobby,\nYour workspace dev was deleted.",
    body_markdown: "Hi Bobby,\n\nYour workspace **dev** was deleted.",
    payload: {
      _version: "1.1",
      notification_name: "Workspace Deleted",
      notification_template_id: "f517da0b-cdc9-410f-ab89-a86107c420ed",
      user_id: "user-id",
      user_email: "bobby@coder.com",
      user_name: "Bobby",
      user_username: "bobby",
      actions: [{ label: "View workspaces", url: "https://coder.example/workspaces" }, {
        label: "View templates",
        url: "https://coder.example/templates",
      }],
      labels: { name: "dev", initiator: "autobuild", reason: 'a "reason" </script>\n' },
    },
  },
  {
    _version: "1.0",
    msg_id: "1",
    title: "",
    body: "",
    payload: { _version: "1.0", notification_name: "Test Notification" },
  },
];

/**
 * Checks a template when a destination is created: known placeholders only, no partials, and
 * valid JSON for sample messages with and without actions and labels. A template that passes
 * cannot fail at send time.
 *
 * @returns the problem, or undefined when the template is fine.
 */
export function templateProblem(template: string): string | undefined {
  let tokens: Token[];
  try {
    tokens = Mustache.parse(template) as unknown as Token[];
  } catch (err) {
    return `not a valid template: ${(err as Error).message}`;
  }
  const problems = tokenProblems(tokens, false);
  if (problems.length > 0) return problems.slice(0, 3).join("; ");
  for (const sample of SAMPLES) {
    const out = renderTemplate(template, sample, 0);
    try {
      JSON.parse(out);
    } catch (err) {
      return `does not render to valid JSON (${(err as Error).message}) for a sample message`;
    }
  }
  return undefined;
}

/**
 * A Coder message as a Slack Block Kit message: header from the title, a section from
 * `body_markdown` converted to Slack mrkdwn, link buttons from `actions`, and a `text` fallback for
 * notifications and screen readers. Every Slack limit is met by truncating, never by failing: a
 * long build report still arrives, cut.
 *
 * Coder escapes user-controlled names in `body_markdown` (`\[`, `\*`…); the conversion keeps that
 * safety: escaped characters stay literal, and `&`, `<`, `>` are always entity-escaped, so a display
 * name can never become a Slack link, a mention or `<!channel>`.
 *
 * @module
 */
import type { Envelope } from "../coder.ts";
import { type InlineRenderer, oneLine, renderInline, truncate } from "./markdown.ts";

/** Slack's Block Kit limits (characters) that a Coder message can reach. */
export const SLACK_LIMITS = {
  header: 150,
  section: 3000,
  actions: 25,
  buttonText: 75,
  url: 3000,
  /** Slack accepts far more, but notifications show a line or two: keep the fallback short. */
  text: 3000,
} as const;

/** A Block Kit block as the relay builds them. */
export type SlackBlock =
  | { type: "header"; text: { type: "plain_text"; text: string; emoji: true } }
  | { type: "section"; text: { type: "mrkdwn"; text: string } }
  | { type: "actions"; elements: SlackButton[] };

/** A link button: Slack opens the URL; the click is acknowledged on `/slack/interactions`. */
export interface SlackButton {
  type: "button";
  text: { type: "plain_text"; text: string; emoji: true };
  url: string;
}

/** The part of a `chat.postMessage` (or incoming-webhook) body that carries the content. */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

/** Renders one Coder message for Slack, within every limit. */
export function renderSlackMessage(envelope: Envelope): SlackMessage {
  const title = envelope.title.trim() || envelope.payload.notification_name;
  const markdown = envelope.body_markdown?.trim() ? envelope.body_markdown : envelope.body;
  const blocks: SlackBlock[] = [{
    type: "header",
    text: { type: "plain_text", text: truncate(oneLine(title), SLACK_LIMITS.header), emoji: true },
  }];
  const section = truncateMrkdwn(markdownToMrkdwn(markdown), SLACK_LIMITS.section);
  if (section) blocks.push({ type: "section", text: { type: "mrkdwn", text: section } });
  const buttons = (envelope.payload.actions ?? []).flatMap((a) => {
    const url = linkUrl(a.url);
    if (!url || url.length > SLACK_LIMITS.url) return [];
    const label = truncate(oneLine(a.label) || "Open", SLACK_LIMITS.buttonText);
    return [
      { type: "button", text: { type: "plain_text", text: label, emoji: true }, url } as const,
    ];
  }).slice(0, SLACK_LIMITS.actions);
  if (buttons.length > 0) blocks.push({ type: "actions", elements: buttons });
  const fallback = [title, envelope.body.trim()].filter((s) => s !== "").join("\n");
  return { text: truncateMrkdwn(escapeMrkdwn(fallback), SLACK_LIMITS.text), blocks };
}

/** Escapes the three characters Slack treats as markup in any text. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * CommonMark (the subset Coder's templates use) → Slack mrkdwn: `**b**` → `*b*`, `*i*`/`_i_` →
 * `_i_`, `~~s~~` → `~s~`, `[t](u)` → `<u|t>`, headings bold, bullets `•`; code spans kept;
 * backslash escapes stay literal.
 */
export function markdownToMrkdwn(markdown: string): string {
  return markdown.replace(/\r\n?/g, "\n").split("\n").map((line) => {
    const heading = line.match(/^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/);
    if (heading) return `*${inline(heading[1])}*`;
    const bullet = line.match(/^(\s*)[-*+]\s+(.*)$/);
    if (bullet) return `${bullet[1]}• ${inline(bullet[2])}`;
    const quote = line.match(/^\s{0,3}>\s?(.*)$/);
    if (quote) return `>${inline(quote[1])}`;
    return inline(line);
  }).join("\n").replace(/\n{3,}/g, "\n\n").trim();
}

/** Slack's way of writing each inline construct. */
const MRKDWN: InlineRenderer = {
  text: escapeMrkdwn,
  code: (text) => `\`${escapeMrkdwn(text)}\``,
  link(label, raw) {
    const url = linkUrl(raw);
    // A `|` in the label would split Slack's `<url|label>`: use a look-alike.
    return url ? `<${url}|${label.replace(/\|/g, "∣")}>` : label;
  },
  emphasis: (kind, inner) => {
    const mark = kind === "strike" ? "~" : kind === "strong" ? "*" : "_";
    return `${mark}${inner}${mark}`;
  },
};

function inline(text: string): string {
  return renderInline(text, MRKDWN);
}

/** A URL fit for a Slack link or button: http(s) or mailto, normalised, no `|`; else undefined. */
function linkUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return undefined;
  }
  if (!["http:", "https:", "mailto:"].includes(url.protocol)) return undefined;
  return url.href.replace(/\|/g, "%7C").replace(/</g, "%3C").replace(/>/g, "%3E");
}

/** Like {@linkcode truncate}, but never leaves half a `<link|…>` or half an `&entity;`. */
function truncateMrkdwn(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  let cut = chars.slice(0, max - 1).join("");
  const open = cut.lastIndexOf("<");
  if (open > cut.lastIndexOf(">")) cut = cut.slice(0, open);
  const amp = cut.lastIndexOf("&");
  if (amp >= 0 && amp > cut.lastIndexOf(";") && cut.length - amp < 6) cut = cut.slice(0, amp);
  return `${cut}…`;
}

/**
 * A Coder message as a Microsoft Teams message: one Adaptive Card (version 1.4, what the Workflows
 * template "Send webhook alerts to a channel" renders) with the title, the body, the labels as a
 * FactSet and the actions as `Action.OpenUrl` buttons. Every limit is met by cutting, never by
 * failing: a long build report still arrives, with a visible "truncated" marker.
 *
 * A TextBlock renders a Markdown subset (bold, italic, lists, links). Coder escapes user-controlled
 * names in `body_markdown` (`\[`, `\*`…); the conversion keeps that safety: escaped and unknown
 * markup stays literal (backslash-escaped again), and only http(s) URLs become links.
 *
 * @module
 */
import { type Envelope, isSecretMessage } from "../coder.ts";
import { type InlineRenderer, oneLine, renderInline, truncate } from "./markdown.ts";

/** Teams' limits that a Coder message can reach (characters, except `bytes`). */
export const TEAMS_LIMITS = {
  /** Teams refuses messages above about 28 KB; keep room for the envelope. */
  bytes: 27 * 1024,
  title: 300,
  facts: 15,
  factTitle: 100,
  factValue: 300,
  actions: 6,
  actionTitle: 80,
  url: 2048,
} as const;

/** The Adaptive Card schema version the cards declare. */
export const CARD_VERSION = "1.4";

/** Shown where the body was cut to fit. */
export const TRUNCATED_MARKER = "_… (truncated: the full message is in Coder)_";

/** A TextBlock, FactSet or card as the relay builds them. */
export type CardElement =
  | {
    type: "TextBlock";
    text: string;
    wrap: true;
    weight?: "bolder";
    size?: "medium";
  }
  | { type: "FactSet"; facts: { title: string; value: string }[] };

/** A link button. */
export interface OpenUrlAction {
  type: "Action.OpenUrl";
  title: string;
  url: string;
}

/** The Adaptive Card. */
export interface AdaptiveCard {
  $schema: "http://adaptivecards.io/schemas/adaptive-card.json";
  type: "AdaptiveCard";
  version: typeof CARD_VERSION;
  msteams: { width: "Full" };
  body: CardElement[];
  actions?: OpenUrlAction[];
}

/** The POST body the Workflows webhook trigger takes. */
export interface TeamsMessage {
  type: "message";
  attachments: [{
    contentType: "application/vnd.microsoft.card.adaptive";
    contentUrl: null;
    content: AdaptiveCard;
  }];
}

/** Renders one Coder message for Teams, within every limit. A passcode is never rendered. */
export function renderTeamsMessage(envelope: Envelope): TeamsMessage {
  const title = escapeText(
    truncate(oneLine(envelope.title) || envelope.payload.notification_name, TEAMS_LIMITS.title),
  );
  if (isSecretMessage(envelope.payload)) {
    // Routing never sends these here; should one slip through, the code stays out.
    return wrap({
      body: [heading(title), {
        type: "TextBlock",
        text: "This message carries a one-time passcode: it goes only to its recipient.",
        wrap: true,
      }],
    });
  }
  const markdown = envelope.body_markdown?.trim() ? envelope.body_markdown : envelope.body;
  let facts = Object.entries(envelope.payload.labels ?? {}).slice(0, TEAMS_LIMITS.facts).map((
    [k, v],
  ) => ({
    title: escapeText(truncate(oneLine(k), TEAMS_LIMITS.factTitle)),
    value: escapeText(truncate(oneLine(String(v)), TEAMS_LIMITS.factValue)),
  }));
  let actions = (envelope.payload.actions ?? []).flatMap((a) => {
    const url = httpUrl(a.url);
    if (!url || url.length > TEAMS_LIMITS.url) return [];
    const label = truncate(oneLine(a.label) || "Open", TEAMS_LIMITS.actionTitle);
    return [{ type: "Action.OpenUrl", title: label, url } as const];
  }).slice(0, TEAMS_LIMITS.actions);

  const build = (text: string) => {
    const body: CardElement[] = [heading(title)];
    if (text) body.push({ type: "TextBlock", text, wrap: true });
    if (facts.length > 0) body.push({ type: "FactSet", facts });
    return wrap({ body, actions });
  };
  let source = markdown;
  let message = build(markdownToTextBlock(source));
  // Bounded: each round cuts the body by at least the overflow, then facts and actions go.
  for (let round = 0; round < 8 && byteSize(message) > TEAMS_LIMITS.bytes; round++) {
    const over = byteSize(message) - TEAMS_LIMITS.bytes;
    const chars = Array.from(source);
    if (chars.length > 0) {
      // Escaping can double a character and UTF-8 takes up to 4 bytes: cut generously.
      source = chars.slice(0, Math.max(0, chars.length - over - 64)).join("");
    } else if (facts.length > 0) {
      facts = [];
    } else {
      actions = [];
    }
    const text = markdownToTextBlock(source);
    message = build(text ? `${text}\n\n${TRUNCATED_MARKER}` : TRUNCATED_MARKER);
  }
  return message;
}

function heading(text: string): CardElement {
  // Lower-case enum values: renderers compare case-insensitively, the 1.0 schema lists only these.
  return { type: "TextBlock", text, wrap: true, weight: "bolder", size: "medium" };
}

function wrap(card: { body: CardElement[]; actions?: OpenUrlAction[] }): TeamsMessage {
  return {
    type: "message",
    attachments: [{
      contentType: "application/vnd.microsoft.card.adaptive",
      contentUrl: null,
      content: {
        $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
        type: "AdaptiveCard",
        version: CARD_VERSION,
        msteams: { width: "Full" },
        body: card.body,
        ...(card.actions?.length ? { actions: card.actions } : {}),
      },
    }],
  };
}

function byteSize(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).byteLength;
}

/** Characters a TextBlock would read as markup, escaped with a backslash. */
function escapeText(text: string): string {
  return leading(escapeChars(text));
}

function escapeChars(text: string): string {
  return text.replace(/[\\`*_[\]<>~]/g, "\\$&");
}

/** A line starting like a list, heading or quote, made literal. */
function leading(line: string): string {
  return line.replace(/^(\s*)([-+#>]|\d+(?=[.)]))/, "$1\\$2");
}

/**
 * CommonMark (the subset Coder's templates use) → what a TextBlock renders: `**b**`, `_i_`, bullets
 * `- `, numbered lists and http(s) links kept; headings bold; strike-through and code spans as plain
 * text; everything else escaped.
 */
export function markdownToTextBlock(markdown: string): string {
  return markdown.replace(/\r\n?/g, "\n").split("\n").map((line) => {
    const heading = line.match(/^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/);
    if (heading) return `**${inline(heading[1])}**`;
    const bullet = line.match(/^(\s*)[-*+]\s+(.*)$/);
    if (bullet) return `${bullet[1]}- ${inline(bullet[2])}`;
    const numbered = line.match(/^(\s*)(\d{1,9})[.)]\s+(.*)$/);
    if (numbered) return `${numbered[1]}${numbered[2]}. ${inline(numbered[3])}`;
    const quote = line.match(/^\s{0,3}>\s?(.*)$/);
    if (quote) return inline(quote[1]);
    return leading(inline(line.trimStart()));
  }).join("\n").replace(/\n{3,}/g, "\n\n").trim()
    // A TextBlock needs a blank line for a paragraph break.
    .replace(/([^\n])\n(?!\s*(?:- |\d+\. ))([^\n])/g, "$1\n\n$2");
}

/** A TextBlock's way of writing each inline construct: no code spans, no strike-through. */
const TEXT_BLOCK: InlineRenderer = {
  text: escapeChars,
  code: escapeChars,
  link(label, raw) {
    const url = httpUrl(raw);
    return url ? `[${label}](${url})` : label;
  },
  emphasis: (kind, inner) =>
    kind === "strike" ? inner : kind === "strong" ? `**${inner}**` : `_${inner}_`,
};

function inline(text: string): string {
  return renderInline(text, TEXT_BLOCK);
}

/** A URL fit for a link or button: http(s) only, normalised, parentheses encoded; else undefined. */
export function httpUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  return url.href.replace(/\(/g, "%28").replace(/\)/g, "%29").replace(/ /g, "%20");
}

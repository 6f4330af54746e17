/**
 * Reading Coder's Markdown and cutting text, shared by the chat renderers (Slack mrkdwn in
 * `slack_message.ts`, Teams TextBlocks in `teams_card.ts`, body templates in `template.ts`). One
 * scanner decides what is a code span, a link, emphasis or an escaped character; each renderer
 * only says how to write them, so a parsing fix lands in every destination at once.
 *
 * @module
 */

/** ASCII punctuation: what CommonMark lets a backslash escape. */
const PUNCTUATION = /[!-/:-@[-`{-~]/;

/** How one target writes the inline constructs {@linkcode renderInline} recognises. */
export interface InlineRenderer {
  /** Literal text (including a backslash-escaped character), escaped for the target. */
  text(text: string): string;
  /** The content of a code span. */
  code(text: string): string;
  /** A link: `label` already rendered, `url` as written (the renderer vets it). */
  link(label: string, url: string): string;
  /** Emphasis around already rendered `inner`. */
  emphasis(kind: "strong" | "em" | "strike", inner: string): string;
}

/**
 * Converts one line's inline markup (the subset Coder's templates use: code spans, links,
 * `**`/`__`, `*`/`_`, `~~`, backslash escapes). Unmatched markup is literal text.
 */
export function renderInline(text: string, r: InlineRenderer): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length && PUNCTUATION.test(text[i + 1])) {
      out += r.text(text[i + 1]);
      i += 2;
      continue;
    }
    if (c === "`") {
      const end = text.indexOf("`", i + 1);
      if (end > i + 1) {
        out += r.code(text.slice(i + 1, end));
        i = end + 1;
        continue;
      }
    }
    if (c === "[") {
      const link = parseLink(text, i);
      if (link) {
        out += r.link(renderInline(link.label, r), link.url);
        i = link.end;
        continue;
      }
    }
    const delimiter = ["**", "__", "~~", "*", "_"].find((d) => text.startsWith(d, i));
    // `snake_case` is not emphasis (CommonMark: no intraword `_`).
    if (delimiter && !(delimiter[0] === "_" && /[\p{L}\p{N}]/u.test(text[i - 1] ?? ""))) {
      const end = closing(text, i + delimiter.length, delimiter);
      if (end !== undefined) {
        const kind = delimiter === "~~" ? "strike" : delimiter.length === 2 ? "strong" : "em";
        out += r.emphasis(kind, renderInline(text.slice(i + delimiter.length, end), r));
        i = end + delimiter.length;
        continue;
      }
    }
    out += r.text(c);
    i++;
  }
  return out;
}

/** Index of the delimiter closing an emphasis opened at `from`, skipping escapes; undefined if none. */
function closing(text: string, from: number, delimiter: string): number | undefined {
  if (from >= text.length || /\s/.test(text[from])) return undefined;
  for (let j = from + 1; j < text.length; j++) {
    if (text[j] === "\\") {
      j++;
      continue;
    }
    if (text.startsWith(delimiter, j) && !/\s/.test(text[j - 1])) {
      // `**` must not close a single `*`.
      if (delimiter.length === 1 && text[j + 1] === delimiter) {
        j++;
        continue;
      }
      if (delimiter[0] === "_" && /[\p{L}\p{N}]/u.test(text[j + delimiter.length] ?? "")) continue;
      return j;
    }
  }
  return undefined;
}

/** `[label](url)` starting at `start`, with nested brackets and escapes in the label. */
function parseLink(text: string, start: number) {
  const labelEnd = matching(text, start, "[", "]");
  if (labelEnd === undefined || text[labelEnd + 1] !== "(") return undefined;
  const urlEnd = matching(text, labelEnd + 1, "(", ")");
  if (urlEnd === undefined) return undefined;
  return {
    label: text.slice(start + 1, labelEnd),
    url: text.slice(labelEnd + 2, urlEnd).trim(),
    end: urlEnd + 1,
  };
}

/** Index of the bracket closing the one at `start`, balancing nested ones and skipping escapes. */
function matching(text: string, start: number, open: string, close: string): number | undefined {
  let depth = 0;
  for (let j = start; j < text.length; j++) {
    const c = text[j];
    if (c === "\\") {
      j++;
    } else if (c === open) {
      depth++;
    } else if (c === close && --depth === 0) {
      return j;
    }
  }
  return undefined;
}

/** Whitespace runs to one space, trimmed. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Cuts to `max` characters (code points) with an ellipsis. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

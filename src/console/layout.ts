/**
 * The frame every console page shares: skip link, navigation, sign-out, one `<h1>`.
 *
 * @module
 */
import { Html, html } from "./html.ts";

/** Where the console lives. */
export const BASE = "/ui";

/** What a page render needs from the request. */
export interface PageContext {
  /** The session's CSRF token: every form carries it. Absent on the sign-in page. */
  readonly csrf?: string;
  /** The navigation entry to mark as current. */
  readonly section?: "overview" | "messages" | "destinations";
}

/** The hidden CSRF field of a form. */
export function csrfField(ctx: PageContext): Html {
  return html`<input type="hidden" name="csrf" value="${ctx.csrf ?? ""}">`;
}

const NAV = [
  ["overview", "Overview", BASE],
  ["messages", "Messages", `${BASE}/messages`],
  ["destinations", "Destinations", `${BASE}/destinations`],
] as const;

/** A whole page. */
export function page(ctx: PageContext, title: string, body: Html): Html {
  const nav = ctx.csrf
    ? html`
      <nav aria-label="Main">
        <ul>${NAV.map(([key, label, href]) =>
          html`<li><a href="${href}"${new Html(
            key === ctx.section ? ' aria-current="page"' : "",
          )}>${label}</a></li>`
        )}</ul>
      </nav>
      <form class="inline" method="post"
        action="${BASE}/logout">${csrfField(ctx)}<button type="submit">Sign out</button></form>
    `
    : html``;
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${title} · coder-relay</title>
        <link rel="icon" href="${BASE}/static/favicon.svg" type="image/svg+xml">
        <link rel="stylesheet" href="${BASE}/static/console.css">
        <script src="${BASE}/static/console.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header><span class="brand">coder-relay</span>${nav}</header>
        <main id="main">
        <h1>${title}</h1>
        ${body}
            </main>
      </body>
    </html>
  `;
}

/** An ISO time shown in UTC without milliseconds. */
export function when(iso: string | null | undefined): string {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "—";
}

/** A column heading: its text, or `{ num }` for a column of numbers (aligned right). */
export type Column = string | { readonly num: string };

/**
 * A data table: a caption (for screen readers only unless `shown`), column headings with their
 * scope, and the rows.
 */
export function dataTable(
  caption: string,
  columns: readonly Column[],
  rows: Html | readonly Html[],
  shown = false,
): Html {
  const heads = columns.map((c) =>
    typeof c === "string"
      ? html`<th scope="col">${c}</th>`
      : html`<th scope="col" class="num">${c.num}</th>`
  );
  return html`
    <table>
      <caption${new Html(shown ? "" : ' class="skip"')}>${caption}</caption>
    <thead><tr>${heads}</tr></thead>
    <tbody>${rows}</tbody>
    </table>
  `;
}

/**
 * Messages pages: the filtered, cursor-paged list and one message with its deliveries, attempts
 * and a "Replay" button per delivery. Only the API's summary is shown, never a message's content,
 * so a One-Time Passcode cannot reach the console.
 *
 * @module
 */
import { STATES } from "../admin/schemas.ts";
import { qs } from "./api_client.ts";
import { Html, html } from "./html.ts";
import { BASE, csrfField, dataTable, type PageContext, when } from "./layout.ts";

/** The list's filters as the page's query string carries them. */
export interface MessageFilters {
  readonly state?: string;
  readonly destination?: string;
  readonly event?: string;
  /** `datetime-local` values, read as UTC. */
  readonly since?: string;
  readonly until?: string;
  readonly cursor?: string;
}

/** The API query for the page's filters (`datetime-local` has no zone: the console means UTC). */
export function apiQuery(f: MessageFilters): string {
  const utc = (v?: string) => v && (/[zZ]|[+-]\d\d:\d\d$/.test(v) ? v : `${v}Z`);
  return qs({
    state: f.state,
    destination: f.destination,
    event: f.event,
    since: utc(f.since),
    until: utc(f.until),
    cursor: f.cursor,
    limit: "50",
  });
}

function select(id: string, label: string, value: string | undefined, options: string[]): Html {
  return html`<div class="field"><label for="${id}">${label}</label>
<select id="${id}" name="${id}"><option value="">Any</option>${
    options.map((o) =>
      html`
        <option value="${o}" ${new Html(o === value ? " selected" : "")}>${o}</option>
      `
    )
  }</select></div>`;
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** A delivery's state as a word that carries its meaning in text, not only in colour. */
export function stateLabel(state: string): Html {
  return html`<span class="state-${state}">${state.replaceAll("_", " ")}</span>`;
}

/** `GET /ui/messages`. */
export function messagesPage(
  _ctx: PageContext,
  f: MessageFilters,
  destinations: string[],
  events: string[],
  answer: { status: number; json: Json },
): [string, Html] {
  const filters = html`<form class="filters" method="get" action="${BASE}/messages"
  aria-label="Filter messages">
${select("state", "State", f.state, [...STATES])}
${select("destination", "Destination", f.destination, destinations)}
${select("event", "Event", f.event, events)}
<div class="field"><label for="since">Received from (UTC)</label>
<input type="datetime-local" id="since" name="since" value="${f.since ?? ""}"></div>
<div class="field"><label for="until">Received before (UTC)</label>
<input type="datetime-local" id="until" name="until" value="${f.until ?? ""}"></div>
<button type="submit">Filter</button>
<a class="button" href="${BASE}/messages">Clear</a>
</form>`;
  if (answer.status !== 200) {
    return [
      "Messages",
      html`${filters}<p class="notice bad" role="alert">${answer.json?.message ?? "error"}</p>`,
    ];
  }
  const rows = (answer.json.messages as Json[]).map((m) =>
    html`
      <tr>
        <td><a class="mono" href="${BASE}/messages/${encodeURIComponent(m.msg_id)}">${m
          .msg_id}</a></td>
        <td>${m.event}</td>
        <td>${when(m.received_at)}</td>
        <td>${(m.deliveries as Json[]).map((d, i) =>
          html`${i ? ", " : ""}${d.destination}: ${stateLabel(d.state)}`
        )}</td>
      </tr>
    `
  );
  const { cursor: _, ...rest } = f;
  const next = answer.json.next_cursor
    ? html`<a class="button" href="${BASE}/messages${
      qs({ ...rest, cursor: answer.json.next_cursor })
    }">Next page</a>`
    : html``;
  const first = f.cursor
    ? html`
      <a class="button" href="${BASE}/messages${qs(rest)}">First page</a>
    `
    : html``;
  const table = rows.length
    ? dataTable("Messages, newest first", [
      "Message",
      "Event",
      "Received",
      "Deliveries",
    ], rows)
    : html`<p>No messages match.</p>`;
  return ["Messages", html`${filters}${table}<p>${first}${next}</p>`];
}

/** `GET /ui/messages/:id`, with the outcome of a replay when there was one. */
export function messagePage(ctx: PageContext, m: Json, notice?: Html): [string, Html] {
  const deliveries = (m.deliveries as Json[]).map((d) =>
    html`<section aria-labelledby="d-${d.destination}">
<h2 id="d-${d.destination}">Delivery to ${d.destination}</h2>
<dl>
<dt>State</dt><dd>${stateLabel(d.state)}</dd>
<dt>Reason</dt><dd>${d.status_reason ?? "—"}</dd>
<dt>Attempts</dt><dd>${d.attempts}</dd>
<dt>Next attempt</dt><dd>${when(d.next_attempt_at)}</dd>
</dl>
<form method="post" action="${BASE}/messages/${encodeURIComponent(m.msg_id)}/replay">
${csrfField(ctx)}<input type="hidden" name="destination" value="${d.destination}">
<button type="submit" aria-label="Replay to ${d.destination}">Replay</button></form>
${
      (d.history as Json[] ?? []).length
        ? dataTable(
          `Attempts to ${d.destination}`,
          [
            "Time",
            "State",
            { num: "HTTP status" },
            { num: "Latency (ms)" },
            "Reason",
          ],
          (d.history as Json[]).map((a) =>
            html`
              <tr>
                <td>${when(a.at)}</td>
                <td>${stateLabel(a.state)}</td>
                <td class="num">${a.status_code ?? "—"}</td>
                <td class="num">${a.latency_ms}</td>
                <td>${a.status_reason ?? "—"}</td>
              </tr>
            `
          ),
          true,
        )
        : html`<p>No attempts yet.</p>`
    }
</section>`
  );
  return [
    `Message ${m.msg_id}`,
    html`
      ${notice}<dl>
        <dt>Event</dt>
        <dd>${m.event}</dd>
        <dt>Received</dt>
        <dd>${when(m.received_at)}</dd>
        <dt>Size</dt>
        <dd>${m.size} bytes</dd>
      </dl>${deliveries}
    `,
  ];
}

/**
 * Destinations pages: the list with state and health and the per-destination actions (pause,
 * resume, send test, edit, delete, retry failed), and the confirmation pages that ask before a
 * delete or a bulk retry, so nothing destructive happens on one click, with or without script.
 *
 * @module
 */
import { Html, html } from "./html.ts";
import { BASE, csrfField, dataTable, type PageContext } from "./layout.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** A destination's state as the console shows it: enabled, paused or disabled, and why. */
export interface DestinationState {
  readonly state: "enabled" | "paused" | "disabled";
  readonly reason?: string;
}

/**
 * The state of a destination from its record, the pause switches and the stats. Health is the
 * store's (`disabled_destinations`), so every replica shows the same.
 */
export function stateOf(sub: Json, pause: Json, stats?: Json): DestinationState {
  if (stats?.state && stats.state !== "enabled") {
    return { state: stats.state, reason: stats.reason ?? undefined };
  }
  if (!sub.enabled) return { state: "disabled", reason: "disabled in its configuration" };
  const gone = pause.disabled_destinations?.[sub.id];
  if (gone) return { state: "disabled", reason: gone.reason };
  if (pause.paused) return { state: "paused", reason: "every destination is paused" };
  if ((pause.paused_destinations as string[]).includes(sub.id)) {
    return { state: "paused", reason: "paused by an operator" };
  }
  return { state: "enabled" };
}

/** The state word and its reason. */
export function stateCell(s: DestinationState): Html {
  return html`<span class="state-${s.state}">${s.state}</span>${
    s.reason ? html`<br><small>${s.reason}</small>` : ""
  }`;
}

function post(ctx: PageContext, action: string, label: string, fields: Html = html``, cls = "") {
  return html`
    <form class="inline" method="post"
      action="${BASE}${action}">${csrfField(ctx)}${fields}<button type="submit"${new Html(
        cls ? ` class="${cls}"` : "",
      )}>${label}</button></form>
  `;
}

/** `GET /ui/destinations`. */
export function destinationsPage(
  ctx: PageContext,
  subs: Json[],
  pause: Json,
  stats: Map<string, Json>,
  notice?: Html,
): [string, Html] {
  const rows = subs.map((s) => {
    const id = encodeURIComponent(s.id);
    const st = stateOf(s, pause, stats.get(s.id));
    const one = html`<input type="hidden" name="destination" value="${s.id}">`;
    // A destination a sink reported gone is re-enabled by "Resume" too.
    const paused = (pause.paused_destinations as string[]).includes(s.id) ||
      pause.disabled_destinations?.[s.id] !== undefined;
    const health = stats.get(s.id);
    return html`
      <tr>
        <th scope="row"><span class="mono">${s.id}</span>${s.name !== s.id
          ? html`<br>${s.name}`
          : ""}</th>
        <td>${s.type}</td>
        <td>${s.source}${s.read_only ? " (read-only)" : ""}</td>
        <td>${stateCell(st)}</td>
        <td>${health
          ? html`${health.queue_depth} queued; last hour ${health.last_hour.sent} sent, ${health.last_hour.failed} failed`
          : "—"}</td>
        <td>${(s.event_types as string[]).join(", ")}</td>
        <td>
      ${paused
        ? post(ctx, "/destinations/resume", "Resume", one)
        : post(ctx, "/destinations/pause", "Pause", one)}
      ${post(ctx, `/destinations/${id}/test`, "Send test")}
      <a class="button" href="${BASE}/destinations/${id}/retry">Retry failed</a>
      ${s.read_only ? "" : html`<a class="button" href="${BASE}/destinations/${id}/edit">Edit</a>
<a class="button" href="${BASE}/destinations/${id}/delete">Delete</a>`}
        </td>
      </tr>
    `;
  });
  return [
    "Destinations",
    html`
      ${notice}
      <p>${pause.paused
        ? html`All delivery is <strong>paused</strong> (accepting continues). ${
          post(ctx, "/destinations/resume", "Resume all")
        }`
        : html`Delivery is running. ${post(ctx, "/destinations/pause", "Pause all")}`}
      <a class="button" href="${BASE}/destinations/new">Add destination</a></p>
      ${dataTable("Destinations", [
        "Destination",
        "Type",
        "Source",
        "State",
        "Health",
        "Events",
        "Actions",
      ], rows)}
    `,
  ];
}

/** The outcome of "Send test", as a notice above the list. */
export function testNotice(outcome: Json): Html {
  return html`<div class="notice${outcome.ok ? "" : " bad"}" role="status">Test to
<strong>${outcome.destination}</strong>: ${outcome.state.replaceAll("_", " ")}${
    outcome.status_code ? ` (HTTP ${outcome.status_code})` : ""
  } in ${outcome.latency_ms} ms${
    outcome.status_reason ? html`: ${outcome.status_reason}` : ""
  }.</div>`;
}

/** A notice with a plain message. */
export function notice(text: string, bad = false): Html {
  return html`<div class="notice${bad ? " bad" : ""}" role="${
    bad ? "alert" : "status"
  }">${text}</div>`;
}

/** `GET /ui/destinations/:id/delete`: asks first. */
export function deletePage(ctx: PageContext, sub: Json): [string, Html] {
  return [
    `Delete ${sub.name}`,
    html`<p>Delete destination <strong>${sub.name}</strong> (<span class="mono">${sub.id}</span>)?
Its queued deliveries are closed; delivered history stays until purged.</p>
${post(ctx, `/destinations/${encodeURIComponent(sub.id)}/delete`, "Delete", html``, "danger")}
<a class="button" href="${BASE}/destinations">Cancel</a>`,
  ];
}

/** `GET /ui/destinations/:id/retry`: how many failed deliveries, and a confirmation. */
export function retryPage(
  ctx: PageContext,
  id: string,
  failed: number,
  more: boolean,
): [string, Html] {
  return [
    `Retry failed deliveries to ${id}`,
    html`<p>${failed}${more ? " or more" : ""} failed deliveries to <span class="mono">${id}</span>
(permanent failure or unknown outcome).</p>
${
      failed
        ? html`${
          post(
            ctx,
            `/destinations/${encodeURIComponent(id)}/retry`,
            `Retry all failed deliveries`,
            html``,
            "primary",
          )
        } <a class="button" href="${BASE}/destinations">Cancel</a>`
        : html`<p><a href="${BASE}/destinations">Back to destinations</a></p>`
    }`,
  ];
}

/**
 * After a bulk retry: how many were re-queued and how many of them still wait. The page's script
 * updates the figures every two seconds from `progress.json` (no reload); without script,
 * "Refresh" does it.
 */
export function retryProgressPage(id: string, requeued: number, waiting: number): [string, Html] {
  const done = Math.max(0, requeued - waiting);
  const path = `${BASE}/destinations/${encodeURIComponent(id)}/retry/progress`;
  return [
    `Retrying ${id}`,
    html`
      <div id="retry-progress" data-poll="${path}.json?requeued=${requeued}">
        <p role="status" id="retry-status">${progressText(requeued, waiting)}</p>
        <label for="progress">Progress</label>
        <progress id="progress" max="${requeued || 1}"
          value="${requeued ? done : 1}">${done} of ${requeued}</progress>
      </div>
      <p><a href="${path}?requeued=${requeued}">Refresh</a> ·
      <a href="${BASE}/messages?destination=${encodeURIComponent(id)}">Messages to ${id}</a> ·
      <a href="${BASE}/destinations">Back to destinations</a></p>
    `,
  ];
}

/** The progress sentence, shared by the page and its JSON. */
export function progressText(requeued: number, waiting: number): string {
  const done = Math.max(0, requeued - waiting);
  return `${requeued} deliveries re-queued; ${done} of ${requeued} no longer waiting${
    waiting === 0 ? " — done" : ""
  }.`;
}

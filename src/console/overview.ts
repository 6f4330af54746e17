/**
 * The overview page: per destination its state, queue, sent and failed counts over the last hour
 * and day and its latency; and the deliveries-per-minute chart. All from `GET /api/v1/stats`.
 *
 * @module
 */
import { deliveriesChart } from "./chart.ts";
import { type DestinationState, stateCell } from "./destinations.ts";
import { type Html, html } from "./html.ts";
import { dataTable, type PageContext } from "./layout.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const ms = (v: number | null) => v === null ? "—" : `${Math.round(v)}`;

/** `GET /ui/`. */
export function overviewPage(_ctx: PageContext, stats: Json): [string, Html] {
  const rows = (stats.destinations as Json[]).map((d) =>
    html`
      <tr>
        <th scope="row" class="mono">${d.id}</th>
        <td>${d.type}</td>
        <td>${stateCell({ state: d.state, reason: d.reason ?? undefined } as DestinationState)}</td>
        <td class="num">${d.queue_depth}</td>
        <td class="num">${d.last_hour.sent}</td>
        <td class="num">${d.last_hour.failed}</td>
        <td class="num">${d.last_day.sent}</td>
        <td class="num">${d.last_day.failed}</td>
        <td class="num">${ms(d.latency_ms.p50)}</td>
        <td class="num">${ms(d.latency_ms.p99)}</td>
      </tr>
    `
  );
  const points = (stats.minutes as Json[]).map((m) => ({ ...m, at: Date.parse(m.at) }));
  return [
    "Overview",
    html`
      <h2>Destinations</h2>
      ${dataTable("Per destination: state, queue and last hour and day", [
        "Destination",
        "Type",
        "State",
        { num: "Queued" },
        { num: "Sent, 1 h" },
        { num: "Failed, 1 h" },
        { num: "Sent, 24 h" },
        { num: "Failed, 24 h" },
        { num: "p50 latency (ms)" },
        { num: "p99 latency (ms)" },
      ], rows)}
      <h2>Deliveries per minute</h2>
      ${deliveriesChart(points, Date.parse(stats.now), stats.window_minutes)}
    `,
  ];
}

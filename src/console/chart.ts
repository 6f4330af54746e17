/**
 * The deliveries-per-minute chart: plain SVG drawn on the server, stacked bars by outcome, with an
 * accessible name and a text summary, so it needs no library and no script.
 *
 * @module
 */
import { Html, html } from "./html.ts";

/** One minute's counts; minutes without deliveries may be left out. */
export interface MinutePoint {
  /** The minute's start, ms since epoch. */
  readonly at: number;
  readonly sent: number;
  readonly failed: number;
  readonly retried: number;
}

const W = 960;
const H = 200;
const PAD = { left: 40, right: 8, top: 8, bottom: 24 };
const SERIES = ["sent", "retried", "failed"] as const;

/** The chart of the `minutes` minutes ending at `now`, one column of width W/minutes each. */
export function deliveriesChart(points: readonly MinutePoint[], now: number, minutes = 1440): Html {
  const end = Math.floor(now / 60_000) * 60_000;
  const start = end - (minutes - 1) * 60_000;
  const byMinute = new Map(points.map((p) => [p.at, p]));
  const inRange = points.filter((p) => p.at >= start && p.at <= end);
  const max = Math.max(1, ...inRange.map((p) => p.sent + p.failed + p.retried));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const colW = plotW / minutes;
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const bars: string[] = [];
  for (const p of inRange) {
    const x = (PAD.left + ((p.at - start) / 60_000) * colW).toFixed(2);
    let base = 0;
    for (const s of SERIES) {
      const v = byMinute.get(p.at)![s];
      if (v === 0) continue;
      const top = y(base + v);
      bars.push(
        `<rect class="${s}" x="${x}" y="${top.toFixed(2)}" width="${
          Math.max(colW, 1).toFixed(2)
        }" height="${(y(base) - top).toFixed(2)}"></rect>`,
      );
      base += v;
    }
  }
  const totals = SERIES.map((s) => inRange.reduce((n, p) => n + p[s], 0));
  const hours = minutes / 60;
  const ticks: string[] = [];
  for (let h = 0; h <= hours; h += Math.max(1, Math.round(hours / 6))) {
    const x = PAD.left + (h * 60 / minutes) * plotW;
    ticks.push(
      `<line x1="${x}" x2="${x}" y1="${PAD.top + plotH}" y2="${
        PAD.top + plotH + 4
      }" stroke="#57606a"></line>` +
        `<text x="${x}" y="${H - 6}" font-size="11" text-anchor="middle" fill="#57606a">${
          h === hours ? "now" : `-${hours - h}h`
        }</text>`,
    );
  }
  const label = `Deliveries per minute, last ${hours === 24 ? "24 hours" : `${minutes} minutes`}`;
  return html`
    <figure>
      <svg class="chart" role="img" aria-label="${label}" aria-describedby="chart-summary"
        viewBox="0 0 ${W} ${H}" width="${W}" height="${H}"
        xmlns="http://www.w3.org/2000/svg">
    <line x1="${PAD.left}" x2="${W - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top +
      plotH}" stroke="#57606a"></line>
    <text x="${PAD.left - 4}" y="${PAD.top +
      10}" font-size="11" text-anchor="end" fill="#57606a">${max}</text>
    <text x="${PAD.left - 4}" y="${PAD.top +
      plotH}" font-size="11" text-anchor="end" fill="#57606a">0</text>
    ${new Html(ticks.join(""))}${new Html(bars.join(""))}
      </svg>
      <figcaption id="chart-summary">${label}: ${totals[0]} sent, ${totals[1]} retried,
    ${totals[2]} failed; the highest minute had ${max === 1 && !inRange.length ? 0 : max}.
    <ul class="legend" aria-hidden="true"><li><span class="swatch sent"></span>sent</li>
    <li><span class="swatch retried"></span>retried</li><li><span class="swatch failed"></span>failed</li></ul>
      </figcaption>
    </figure>
  `;
}

/**
 * The console's only static files, as strings so that they travel inside `deno compile` and
 * `deno bundle` output: nothing is fetched from anywhere but the relay.
 *
 * @module
 */

/** The stylesheet: readable, high-contrast, no external fonts. */
export const CSS = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #fff;
  --accent: #0a58ca; --ok: #1a7f37; --bad: #b42318; --warn: #8a5a00; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 1; }
header { display: flex; gap: 24px; align-items: center; padding: 8px 24px;
  border-bottom: 1px solid var(--line); background: #f6f8fa; }
header .brand { font-weight: 600; }
header nav ul { display: flex; gap: 16px; list-style: none; margin: 0; padding: 0; }
header nav a[aria-current="page"] { font-weight: 600; text-decoration: none; color: var(--fg); }
header form { margin-left: auto; }
main { padding: 16px 24px 48px; max-width: 1200px; }
h1 { font-size: 1.5rem; margin: 8px 0 16px; }
h2 { font-size: 1.15rem; margin: 24px 0 8px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-weight: 600; background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, monospace; font-size: 0.9em; }
button, .button { font: inherit; padding: 4px 12px; border: 1px solid var(--line);
  border-radius: 6px; background: #f6f8fa; color: var(--fg); cursor: pointer;
  text-decoration: none; display: inline-block; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible,
textarea:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
form.inline { display: inline; }
.field { margin: 0 0 12px; }
.field label { display: block; font-weight: 600; }
.field label.inline { display: inline; }
.field .hint { color: var(--muted); font-size: 0.9em; }
input[type=text], input[type=password], input[type=url], input[type=datetime-local], select,
textarea { font: inherit; padding: 4px 8px; border: 1px solid #8c959f; border-radius: 6px;
  min-width: 18rem; }
[aria-invalid="true"] { border-color: var(--bad); }
.error { color: var(--bad); font-weight: 600; }
.notice { padding: 8px 12px; border: 1px solid var(--line); border-radius: 6px; background: #f6f8fa;
  margin: 0 0 16px; }
.notice.bad { border-color: var(--bad); }
.state-sent, .state-enabled { color: var(--ok); }
.state-permanent_failure, .state-unknown, .state-disabled { color: var(--bad); }
.state-temporary_failure, .state-paused { color: var(--warn); }
.filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-end; }
.filters .field { margin: 0; }
.filters input, .filters select { min-width: 10rem; }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 0 0 12px; }
.chart { max-width: 100%; height: auto; border: 1px solid var(--line); }
.legend { display: flex; gap: 16px; list-style: none; padding: 0; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px; }
.sent { fill: #1a7f37; background: #1a7f37; }
.failed { fill: #b42318; background: #b42318; }
.retried { fill: #bf8700; background: #bf8700; }
progress { width: 20rem; }
`;

/**
 * Progressive enhancement only: every page works without it (deletes and bulk retries ask on a
 * page of their own). Updates a retry's progress in place (`data-poll`), and shows only the
 * fieldset of the chosen destination type.
 */
export const JS = `
function showType(select) {
  for (const fs of document.querySelectorAll("fieldset[data-type]")) {
    const on = fs.getAttribute("data-type") === select.value;
    fs.hidden = !on;
    fs.disabled = !on;
  }
}
const poll = document.querySelector("[data-poll]");
if (poll) {
  const bar = poll.querySelector("progress");
  const status = poll.querySelector("[role=status]");
  const tick = async () => {
    const res = await fetch(poll.getAttribute("data-poll"), { credentials: "same-origin" });
    if (!res.ok) return;
    const p = await res.json();
    bar.value = p.requeued ? p.requeued - p.waiting : 1;
    bar.textContent = status.textContent = p.text;
    if (p.waiting > 0) setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
}
const typeSelect = document.getElementById("type");
if (typeSelect && document.querySelector("fieldset[data-type]")) {
  showType(typeSelect);
  typeSelect.addEventListener("change", () => showType(typeSelect));
}
`;

/** The tab icon: a relay arrow. */
export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">
<rect width="16" height="16" rx="3" fill="#0a58ca"/><path d="M3 8h8M8 4l4 4-4 4" stroke="#fff"
stroke-width="2" fill="none"/></svg>`;

/**
 * The operator console at `/ui`: server-rendered pages over the admin API, signed in with the
 * admin token. The session is a signed cookie (HttpOnly, SameSite=Strict, Secure over https) that
 * never holds the token; every state-changing request must come from the console's own origin and
 * carry the session's CSRF token; a strict Content-Security-Policy allows only the relay's own
 * script and stylesheet. Mount with `app.route("/ui", createConsole(...))`.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { readBody } from "../http/body.ts";
import { timingSafeEqual } from "../bytes.ts";
import { createApiClient, qs } from "./api_client.ts";
import { CSS, FAVICON, JS } from "./assets.ts";
import { Html, html } from "./html.ts";
import { BASE, page, type PageContext } from "./layout.ts";
import { createThrottle } from "./throttle.ts";
import { cookieOf, createSessions, isHttps, sameOrigin, sessionCookie } from "./session.ts";
import { apiQuery, type MessageFilters, messagePage, messagesPage } from "./messages.ts";
import { overviewPage } from "./overview.ts";
import {
  deletePage,
  destinationsPage,
  notice,
  progressText,
  retryPage,
  retryProgressPage,
  testNotice,
} from "./destinations.ts";
import {
  destinationForm,
  EMPTY_FORM,
  type FormState,
  placeIssues,
  readForm,
  stateOf,
} from "./dest_form.ts";

/** What the console needs. */
export interface ConsoleDeps {
  /** The admin token; absent, the console says it is disabled (as the admin API does). */
  readonly token?: string;
  /** The relay's own request handler: the console reaches the admin API through it. */
  readonly handler: (req: Request) => Response | Promise<Response>;
  readonly now: () => number;
}

/** Script and style from the relay only; no inline code, no framing, forms post only here. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
  "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const FORM_LIMIT = 64 * 1024;

type Rendered = [string, Html];
type Ctx = Context;

function send(ctx: PageContext, r: Rendered, status = 200): Response {
  return new Response(page(ctx, r[0], r[1]).value, {
    status,
    headers: { "content-type": "text/html; charset=utf-8" },
  });
}

/** Builds the console's router. */
export function createConsole(deps: ConsoleDeps): Hono {
  const app = new Hono();
  // Mounted in a router that is not `strict`: `/ui/` and `/ui` are one page.
  app.use(async (c, next) => {
    await next();
    const h = c.res.headers;
    h.set("content-security-policy", CSP);
    h.set("x-content-type-options", "nosniff");
    // Not no-referrer: with it Chromium sends `Origin: null` on the console's own form posts.
    h.set("referrer-policy", "same-origin");
    h.set("x-frame-options", "DENY");
    if (!h.has("cache-control")) h.set("cache-control", "no-store");
  });
  const asset = (body: string, type: string) => () =>
    new Response(body, { headers: { "content-type": type, "cache-control": "max-age=300" } });
  app.get("/static/console.css", asset(CSS, "text/css; charset=utf-8"));
  app.get("/static/console.js", asset(JS, "text/javascript; charset=utf-8"));
  app.get("/static/favicon.svg", asset(FAVICON, "image/svg+xml"));

  const token = deps.token;
  if (!token) {
    app.all("*", () =>
      send({}, [
        "Console disabled",
        html`<p>The console and the admin API are disabled: set RELAY_ADMIN_TOKEN to enable them.</p>`,
      ], 403));
    return app;
  }
  const sessions = createSessions(token);
  const expected = new TextEncoder().encode(token);
  const api = createApiClient(deps.handler, token);
  /** Per request: the session's CSRF token and, on a post, the checked form. */
  const requests = new WeakMap<Request, { csrf: string; form?: URLSearchParams }>();

  async function form(req: Request): Promise<URLSearchParams> {
    const bytes = await readBody(req, FORM_LIMIT);
    return new URLSearchParams(new TextDecoder().decode(bytes));
  }
  const refused = () =>
    send({}, [
      "Request refused",
      html`<p>This request did not come from the console's own pages (or the page is too old).
<a href="${BASE}">Go to the console</a>.</p>`,
    ], 403);

  const loginPage = (error?: string, status = 200) =>
    send({}, [
      "Sign in",
      html`<form method="post" action="${BASE}/login">
${error ? html`<p class="error" role="alert" id="login-error">${error}</p>` : ""}
<div class="field"><label for="token">Admin token</label>
<input type="password" id="token" name="token" autocomplete="current-password" required${new Html(
        error ? ' aria-invalid="true" aria-describedby="login-error"' : "",
      )}></div>
<button type="submit" class="primary">Sign in</button>
</form>`,
    ], status);

  const throttle = createThrottle();
  app.get("/login", () => loginPage());
  app.post("/login", async (c) => {
    if (!sameOrigin(c.req.raw)) return refused();
    // The connection's address: behind a proxy every client shares the proxy's.
    const client = (c.env as Deno.ServeHandlerInfo<Deno.NetAddr> | undefined)?.remoteAddr
      ?.hostname ?? "unknown";
    const wait = throttle.retryAfter(client, deps.now());
    if (wait) {
      const res = loginPage(
        `Too many failed sign-ins from this address: try again in ${wait} seconds.`,
        429,
      );
      res.headers.set("retry-after", String(wait));
      return res;
    }
    const presented = (await form(c.req.raw)).get("token") ?? "";
    if (!timingSafeEqual(presented, expected)) {
      throttle.failed(client, deps.now());
      return loginPage("Wrong admin token.", 401);
    }
    throttle.succeeded(client);
    const cookie = await sessions.issue(deps.now());
    return new Response(null, {
      status: 303,
      headers: { location: BASE, "set-cookie": sessionCookie(cookie, isHttps(c.req.raw)) },
    });
  });

  // Everything below needs a session; state changes need the origin and the CSRF token too.
  app.use(async (c, next) => {
    const csrf = await sessions.verify(cookieOf(c.req.raw), deps.now());
    if (!csrf) {
      if (c.req.method === "GET") return c.redirect(`${BASE}/login`, 303);
      return refused();
    }
    let body: URLSearchParams | undefined;
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      if (!sameOrigin(c.req.raw)) return refused();
      body = await form(c.req.raw);
      if (!timingSafeEqual(body.get("csrf") ?? "", new TextEncoder().encode(csrf))) {
        return refused();
      }
    }
    requests.set(c.req.raw, { csrf, form: body });
    await next();
  });
  const ctxOf = (c: Ctx, section?: PageContext["section"]): PageContext => ({
    csrf: requests.get(c.req.raw)?.csrf,
    section,
  });
  const formOf = (c: Ctx) => requests.get(c.req.raw)?.form ?? new URLSearchParams();
  const failure = (
    c: Ctx,
    section: PageContext["section"],
    answer: { json?: { message?: string } },
  ) =>
    send(
      ctxOf(c, section),
      ["Error", notice(answer.json?.message ?? "the request failed", true)],
      502,
    );

  app.post("/logout", async (c) => {
    await sessions.revoke(cookieOf(c.req.raw), deps.now());
    return new Response(null, {
      status: 303,
      headers: { location: `${BASE}/login`, "set-cookie": sessionCookie("", isHttps(c.req.raw)) },
    });
  });

  app.get("/", async (c) => {
    const stats = await api("GET", "/stats");
    if (stats.status !== 200) return failure(c, "overview", stats);
    return send(ctxOf(c, "overview"), overviewPage(ctxOf(c, "overview"), stats.json));
  });

  // Messages.
  app.get("/messages", async (c) => {
    const q = c.req.query();
    const f: MessageFilters = {
      state: q.state || undefined,
      destination: q.destination || undefined,
      event: q.event || undefined,
      since: q.since || undefined,
      until: q.until || undefined,
      cursor: q.cursor || undefined,
    };
    const [list, subs, events] = await Promise.all([
      api("GET", `/messages${apiQuery(f)}`),
      api("GET", "/webhooks/"),
      api("GET", "/event-types"),
    ]);
    const ctx = ctxOf(c, "messages");
    return send(
      ctx,
      messagesPage(
        ctx,
        f,
        (subs.json.results as { id: string }[]).map((s) => s.id),
        (events.json.event_types as { name: string }[]).map((e) => e.name),
        list,
      ),
      list.status === 200 ? 200 : 400,
    );
  });
  const showMessage = async (c: Ctx, id: string, note?: Html, status = 200) => {
    const m = await api("GET", `/messages/${encodeURIComponent(id)}`);
    const ctx = ctxOf(c, "messages");
    if (m.status !== 200) {
      return send(ctx, ["Message not found", notice(m.json?.message ?? "not found", true)], 404);
    }
    return send(ctx, messagePage(ctx, m.json, note), status);
  };
  app.get("/messages/:id", (c) => showMessage(c, c.req.param("id")));
  app.post("/messages/:id/replay", async (c) => {
    const id = c.req.param("id");
    const destination = formOf(c).get("destination") || undefined;
    const res = await api("POST", `/messages/${encodeURIComponent(id)}/retry`, { destination });
    const note = res.status === 200
      ? notice(
        `Replay queued: ${
          (res.json.requeued as { destination: string }[]).map((d) => d.destination).join(", ")
        }.`,
      )
      : notice(res.json?.message ?? "replay failed", true);
    return showMessage(c, id, note, res.status === 200 ? 200 : res.status);
  });

  // Destinations.
  async function listPage(c: Ctx, note?: Html, status = 200) {
    const [subs, pause, stats] = await Promise.all([
      api("GET", "/webhooks/"),
      api("GET", "/pause"),
      api("GET", "/stats?minutes=60"),
    ]);
    const byId = new Map<string, unknown>(
      (stats.json?.destinations ?? []).map((d: { id: string }) => [d.id, d]),
    );
    const ctx = ctxOf(c, "destinations");
    return send(ctx, destinationsPage(ctx, subs.json.results, pause.json, byId, note), status);
  }
  app.get("/destinations", (c) => listPage(c));
  for (const action of ["pause", "resume"] as const) {
    app.post(`/destinations/${action}`, async (c) => {
      const destination = formOf(c).get("destination") || undefined;
      const res = await api("POST", `/${action}`, { destination });
      const what = destination ?? "every destination";
      return listPage(
        c,
        res.status === 200
          ? notice(`${action === "pause" ? "Paused" : "Resumed"} ${what}.`)
          : notice(res.json?.message ?? `${action} failed`, true),
        res.status === 200 ? 200 : res.status,
      );
    });
  }
  const formPage = (c: Ctx, title: string, state: FormState, status = 200) => {
    const ctx = ctxOf(c, "destinations");
    return send(ctx, [title, destinationForm(ctx, state)], status);
  };
  app.get("/destinations/new", (c) => formPage(c, "Add destination", EMPTY_FORM));
  app.post("/destinations/new", async (c) => {
    const { body, state } = readForm(formOf(c), false);
    const res = await api("POST", "/webhooks/", body);
    if (res.status === 201) {
      return listPage(c, notice(`Created ${res.json.name} (${res.json.id}).`));
    }
    return formPage(
      c,
      "Add destination",
      placeIssues(state, res.json?.details?.issues ?? [], res.json?.message ?? "failed"),
      400,
    );
  });
  const subscription = (id: string) => api("GET", `/webhooks/${encodeURIComponent(id)}`);
  app.get("/destinations/:id/edit", async (c) => {
    const sub = await subscription(c.req.param("id"));
    if (sub.status !== 200 || sub.json.read_only) return failure(c, "destinations", sub);
    return formPage(c, `Edit ${sub.json.name}`, stateOf(sub.json));
  });
  app.post("/destinations/:id/edit", async (c) => {
    const sub = await subscription(c.req.param("id"));
    if (sub.status !== 200) return failure(c, "destinations", sub);
    const current = stateOf(sub.json);
    const { body, state } = readForm(formOf(c), true, current.secretsSet);
    const res = await api("PATCH", `/webhooks/${encodeURIComponent(sub.json.id)}`, body);
    if (res.status === 200) return listPage(c, notice(`Saved ${res.json.name}.`));
    return formPage(
      c,
      `Edit ${sub.json.name}`,
      placeIssues(
        { ...state, id: sub.json.id },
        res.json?.details?.issues ?? [],
        res.json?.message ?? "failed",
      ),
      400,
    );
  });
  app.get("/destinations/:id/delete", async (c) => {
    const sub = await subscription(c.req.param("id"));
    if (sub.status !== 200 || sub.json.read_only) return failure(c, "destinations", sub);
    const ctx = ctxOf(c, "destinations");
    return send(ctx, deletePage(ctx, sub.json));
  });
  app.post("/destinations/:id/delete", async (c) => {
    const id = c.req.param("id");
    const res = await api("DELETE", `/webhooks/${encodeURIComponent(id)}`);
    return listPage(
      c,
      res.status === 204 ? notice(`Deleted ${id}.`) : notice(res.json?.message ?? "failed", true),
    );
  });
  app.post("/destinations/:id/test", async (c) => {
    const res = await api("POST", `/webhooks/${encodeURIComponent(c.req.param("id"))}/test`, {});
    return listPage(
      c,
      res.status === 200 ? testNotice(res.json) : notice(res.json?.message ?? "failed", true),
    );
  });
  app.get("/destinations/:id/retry", async (c) => {
    const id = c.req.param("id");
    const counts = await Promise.all(
      ["permanent_failure", "unknown"].map((state) =>
        api("GET", `/messages${qs({ destination: id, state, limit: "500" })}`)
      ),
    );
    const failed = counts.reduce((n, r) => n + (r.json?.messages?.length ?? 0), 0);
    const more = counts.some((r) => r.json?.next_cursor);
    const ctx = ctxOf(c, "destinations");
    return send(ctx, retryPage(ctx, id, failed, more));
  });
  app.post("/destinations/:id/retry", async (c) => {
    const id = c.req.param("id");
    const res = await api("POST", "/messages/retry", { destination: id });
    if (res.status !== 200) return failure(c, "destinations", res);
    return c.redirect(
      `${BASE}/destinations/${encodeURIComponent(id)}/retry/progress?requeued=${res.json.requeued}`,
      303,
    );
  });
  const waiting = async (id: string, requeued: number) => {
    const stats = await api("GET", "/stats?minutes=1");
    const d = (stats.json?.destinations ?? []).find((x: { id: string }) => x.id === id);
    return Math.min(requeued, d?.queue_depth ?? 0);
  };
  app.get("/destinations/:id/retry/progress", async (c) => {
    const id = c.req.param("id");
    const requeued = Number(c.req.query("requeued")) || 0;
    const ctx = ctxOf(c, "destinations");
    return send(ctx, retryProgressPage(id, requeued, await waiting(id, requeued)));
  });
  app.get("/destinations/:id/retry/progress.json", async (c) => {
    const requeued = Number(c.req.query("requeued")) || 0;
    const left = await waiting(c.req.param("id"), requeued);
    return c.json({ requeued, waiting: left, text: progressText(requeued, left) });
  });
  return app;
}

/**
 * The HTTP surface. Routing only: each route hands its work to the module that owns it, and every
 * error goes through {@linkcode errorResponse}.
 *
 * @module
 */
import { Hono } from "hono";
import { type AdminDeps, createAdminRoutes } from "../admin/api.ts";
import { createConsole } from "../console/mod.ts";
import { METRICS_CONTENT_TYPE } from "../metrics.ts";
import type { Store } from "../store/store.ts";
import { logger } from "../log.ts";
import { VERSION } from "../version.ts";
import { inboundAuth } from "./auth.ts";
import { errorResponse, HttpError, httpErrorOf } from "./errors.ts";
import { acknowledgeInteraction, checkSlackBotContract } from "./slack.ts";
import { receive, type ReceiverDeps } from "./webhook.ts";

const log = logger("http");
/** What the routes need. */
export interface RoutesDeps extends ReceiverDeps {
  readonly store: Store;
  readonly authToken?: string;
  /** Called on every request: on Deno Deploy, requests are what keep delivery going. */
  readonly onRequest: () => void;
  /** Set: `POST /slack/interactions` acknowledges Slack's signed callbacks. */
  readonly slackSigningSecret?: string;
  /** The admin API under `/api/v1/`. */
  readonly admin?: AdminDeps;
  /** Set: `GET /metrics` asks for this token, as the receiver asks for `authToken`. */
  readonly metricsToken?: string;
}

/** Builds the router. */
export function createRoutes(deps: RoutesDeps): Hono {
  const app = new Hono();
  const checkAuth = inboundAuth(deps.authToken);

  app.onError((err) => errorResponse(err));
  app.notFound((c) =>
    errorResponse(new HttpError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`))
  );
  app.use(async (_c, next) => {
    deps.onRequest();
    await next();
  });

  // Health, in the Python middleware's spirit: `GET /` answers as it did, `/health` too.
  app.get(
    "/",
    (c) =>
      c.json({
        message: "Hello from coder-relay",
        status: "ok",
        service: "coder-relay",
        version: VERSION,
      }),
  );
  app.get("/health", (c) => c.json({ status: "healthy" }));
  app.get("/healthz", (c) => c.json({ status: "ok", version: VERSION }));
  app.get("/readyz", async (c) => {
    try {
      await deps.store.ping();
      return c.json({ status: "ready" });
    } catch (err) {
      // The detail may name hosts and users: it goes to the log, not to an unauthenticated client.
      log.warn("readiness check failed: {error}", { error: (err as Error).message });
      return c.json({ status: "unavailable", error: "store unreachable" }, 503);
    }
  });

  const webhook = async (
    c: { req: { raw: Request; url: string } },
    precheck?: Parameters<typeof receive>[2],
  ) => {
    deps.metrics?.received.inc();
    try {
      checkAuth(c.req.raw, new URL(c.req.url));
      return await receive(deps, c.req.raw, precheck);
    } catch (err) {
      const e = httpErrorOf(err);
      deps.metrics?.rejected.inc({ reason: e.code });
      throw e;
    }
  };
  app.post("/", (c) => webhook(c));
  // Coder's Slack bot's endpoint and contract: its 400 messages, 204 once stored.
  app.post("/v1/webhook", async (c) => {
    const res = await webhook(c, checkSlackBotContract);
    return res.ok ? new Response(null, { status: 204 }) : res;
  });
  const slackSecret = deps.slackSigningSecret;
  if (slackSecret) {
    app.post(
      "/slack/interactions",
      (c) => acknowledgeInteraction({ signingSecret: slackSecret, now: deps.now }, c.req.raw),
    );
  }

  const { metrics, admin } = deps;
  if (metrics) {
    const checkMetricsAuth = inboundAuth(deps.metricsToken);
    app.get("/metrics", async (c) => {
      checkMetricsAuth(c.req.raw, new URL(c.req.url));
      return new Response(await metrics.registry.render(), {
        headers: { "content-type": METRICS_CONTENT_TYPE },
      });
    });
  }
  if (admin) app.route("/api/v1", createAdminRoutes(admin));
  app.route(
    "/ui",
    createConsole({ token: admin?.token, handler: (req) => app.fetch(req), now: deps.now }),
  );
  return app;
}

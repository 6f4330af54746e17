/**
 * The HTTP surface. Routing only: each route hands its work to the module that owns it, and every
 * error goes through {@linkcode errorResponse}.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { METRICS_CONTENT_TYPE } from "../metrics.ts";
import type { Store } from "../store/store.ts";
import { logger } from "../log.ts";
import { createLogLimiter, suppressedNote } from "../log_limit.ts";
import { createWriteHealth } from "./write_health.ts";
import { MSG_ID_PATTERN } from "../coder.ts";
import { VERSION } from "../version.ts";
import { inboundAuth } from "./auth.ts";
import { errorResponse, HttpError, httpErrorOf } from "./errors.ts";
import { acknowledgeInteraction, checkSlackBotContract } from "./slack.ts";
import { receive, type ReceiverDeps } from "./receiver.ts";

const log = logger("http");
const rejections = createLogLimiter(1000);

/**
 * One WARN line per rejected webhook (status, reason, remote address, msg_id when the header gives
 * a valid one), at most one per reason per second: never the body or credentials.
 */
function logRejection(e: HttpError, req: Request, env: unknown) {
  const { emit, suppressed } = rejections.check(`${e.status} ${e.code}`);
  if (!emit) return;
  const remote = (env as Deno.ServeHandlerInfo<Deno.NetAddr> | undefined)?.remoteAddr?.hostname;
  const header = req.headers.get("x-message-id");
  log.warn("rejected webhook: {status} {code}: {reason} (from {remote}{msgId}){suppressed}", {
    status: e.status,
    code: e.code,
    reason: e.message,
    remote: remote ?? "unknown",
    msgId: header && MSG_ID_PATTERN.test(header) ? `, msg_id ${header}` : "",
    suppressed: suppressedNote(suppressed),
  });
}
/** What the routes need. */
export interface RoutesDeps extends ReceiverDeps {
  readonly store: Store;
  readonly authToken?: string;
  /** Called on every request: on Deno Deploy, requests are what keep delivery going. */
  readonly onRequest: () => void;
  /** Set: `POST /slack/interactions` acknowledges Slack's signed callbacks. */
  readonly slackSigningSecret?: string;
  /** Set: `GET /metrics` asks for this token, as the receiver asks for `authToken`. */
  readonly metricsToken?: string;
}

/**
 * Builds the router. Not `strict`: a trailing slash names the same route. The admin API is mounted
 * under `/api/v1` by the caller (`app.ts`), so this layer knows nothing of it.
 */
export function createRoutes(deps: RoutesDeps): Hono {
  const app = new Hono({ strict: false });
  const writes = createWriteHealth();

  app.onError((err, c) => {
    const e = httpErrorOf(err);
    // Mapped once: middleware that looks at `c.error` after `next()` sees the status and code.
    c.error = e;
    return errorResponse(e);
  });
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
      const problem = writes.problem();
      if (problem) {
        return c.json({ status: "unavailable", error: "store not writable" }, 503);
      }
      return c.json({ status: "ready" });
    } catch (err) {
      // The detail may name hosts and users: it goes to the log, not to an unauthenticated client.
      log.warn("readiness check failed: {error}", { error: (err as Error).message });
      return c.json({ status: "unavailable", error: "store unreachable" }, 503);
    }
  });

  // Every webhook counts as received; a refused one (auth included) also counts by reason.
  const counted: MiddlewareHandler = async (c, next) => {
    deps.metrics?.received.inc();
    await next();
    if (c.error instanceof HttpError) {
      if (c.error.code === "store_unavailable") writes.failed();
      deps.metrics?.rejected.inc({ reason: c.error.code });
      logRejection(c.error, c.req.raw, c.env);
    } else if (c.res.status === 202 || c.res.status === 204) writes.succeeded();
  };
  const receiverAuth = inboundAuth(deps.authToken);
  app.post("/", counted, receiverAuth, (c) => receive(deps, c.req.raw));
  // Coder's Slack bot's endpoint and contract: its 400 messages, 204 once stored.
  app.post("/v1/webhook", counted, receiverAuth, async (c) => {
    const res = await receive(deps, c.req.raw, checkSlackBotContract);
    return res.ok ? new Response(null, { status: 204 }) : res;
  });
  const slackSecret = deps.slackSigningSecret;
  if (slackSecret) {
    app.post(
      "/slack/interactions",
      (c) => acknowledgeInteraction({ signingSecret: slackSecret, now: deps.now }, c.req.raw),
    );
  }

  const { metrics } = deps;
  if (metrics) {
    app.get("/metrics", inboundAuth(deps.metricsToken), async () => {
      return new Response(await metrics.registry.render(), {
        headers: { "content-type": METRICS_CONTENT_TYPE },
      });
    });
  }
  return app;
}

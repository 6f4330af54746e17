/**
 * `serve`: the long-running relay. Opens the store, starts delivery, listens, and on SIGTERM/SIGINT
 * stops accepting, lets in-flight sends finish and closes the store.
 *
 * @module
 */
import { createApp } from "./app.ts";
import type { Config } from "./config.ts";
import { describeFilter } from "./coder.ts";
import { setCronDrain } from "./cron.ts";
import { logger } from "./log.ts";
import { storeBackend } from "./store/open.ts";
import { VERSION } from "./version.ts";

const log = logger("serve");

/** Runs until a signal; resolves once everything is closed. */
export async function serve(config: Config): Promise<void> {
  const backend = storeBackend(config.store);
  const store = await backend.open(config);
  const app = createApp({ config, store });
  // Read the admin API's subscriptions now: they are logged below and the first request is quick.
  const destinations = await app.destinationSet.reload();
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    signal: ac.signal,
    onListen: ({ hostname, port }) => {
      log.info("coder-relay {version} listening on http://{hostname}:{port}", {
        version: VERSION,
        hostname,
        port,
        store: backend.kind,
        auth: config.authToken ? "token" : "none",
      });
      if (!config.adminToken) {
        log.info("admin API disabled: RELAY_ADMIN_TOKEN is not set (/api/v1/ answers 403)");
      }
      for (const d of destinations) {
        log.info("destination {id} ({type}) for {events}{note}", {
          id: d.id,
          type: d.type,
          events: describeFilter(d.events).join(", "),
          note: d.description ? ` — ${d.description}` : "",
        });
      }
    },
    onError: (err) => {
      log.error("unhandled request error: {error}", {
        error: (err as Error)?.stack ?? String(err),
      });
      return Response.json({ error: "internal_error", message: "internal error" }, { status: 500 });
    },
  }, app.handler);
  app.start();
  setCronDrain(() => app.worker.runOnce());

  const stop = () => {
    if (ac.signal.aborted) return;
    log.info("shutting down: no new requests; finishing in-flight deliveries");
    ac.abort();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  await server.finished;
  setCronDrain(undefined);
  await app.close();
  for (const s of signals) Deno.removeSignalListener(s, stop);
  log.info("stopped");
}

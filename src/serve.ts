/**
 * `serve`: the long-running relay. Opens the store, starts delivery, listens, and on SIGTERM/SIGINT
 * stops accepting, lets in-flight sends finish and closes the store.
 *
 * @module
 */
import { createApp } from "./app.ts";
import { type Config, ConfigError } from "./config.ts";
import { redactText } from "./redact.ts";
import { describeFilter } from "./coder.ts";
import { setCronDrain } from "./cron.ts";
import { logger } from "./log.ts";
import { storeBackend } from "./store/open.ts";
import { lockKvFile, needsKvLock } from "./store/kv_lock.ts";
import { VERSION } from "./version.ts";
import { startupWarnings } from "./startup_warnings.ts";
import { serveResilient } from "./http/resilient_serve.ts";

const log = logger("serve");

/** Runs until a signal; resolves once everything is closed. */
export async function serve(config: Config): Promise<void> {
  const lock = needsKvLock(config.store)
    ? await lockKvFile(config.store).catch((err: Error) => {
      throw new ConfigError(err.message);
    })
    : undefined;
  const backend = storeBackend(config.store);
  const store = await backend.open({ ...config, settleLeases: !!lock }).catch(
    (err: Error) => {
      lock?.release();
      const message = redactText(err.message);
      throw new ConfigError(
        message.startsWith("RELAY_STORE")
          ? message
          : `RELAY_STORE: cannot open the store: ${message}`,
      );
    },
  );
  const app = createApp({ config, store });
  // Read the admin API's subscriptions now: they are logged below and the first request is quick.
  const destinations = await app.destinationSet.reload();
  const ac = new AbortController();
  function listen() {
    return serveResilient({
      hostname: config.host,
      port: config.port,
      signal: ac.signal,
      onRestart: (err, ms) =>
        log.warn("accepting connections failed ({error}): refusing new ones, retrying in {ms} ms", {
          error: err.message,
          ms,
        }),
      onListen: ({ hostname, port }) => {
        log.info("coder-relay {version} listening on http://{hostname}:{port}", {
          version: VERSION,
          hostname,
          port,
          store: backend.kind,
          auth: config.authToken ? "token" : "none",
        });
        for (const warning of startupWarnings(config)) log.warn(warning);
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
        return Response.json({ error: "internal_error", message: "internal error" }, {
          status: 500,
        });
      },
    }, app.handler);
  }
  const serving = listen();
  app.start();
  setCronDrain(() => app.worker.runOnce());

  const stop = () => {
    if (ac.signal.aborted) return;
    log.info("shutting down: no new requests; finishing in-flight deliveries");
    ac.abort();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  try {
    await serving;
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse || err instanceof Deno.errors.AddrNotAvailable) {
      throw new ConfigError(
        `cannot listen on ${config.host}:${config.port} (HOST, PORT): ${
          err instanceof Deno.errors.AddrInUse ? "address already in use" : "address not available"
        }`,
      );
    }
    throw err;
  } finally {
    setCronDrain(undefined);
    for (const s of signals) Deno.removeSignalListener(s, stop);
    await app.close();
    lock?.release();
  }
  log.info("stopped");
}

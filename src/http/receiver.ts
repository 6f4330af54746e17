/**
 * The Coder webhook receiver: read under the size limit, validate, route, store, ack (credentials
 * are checked before, by middleware in `routes.ts`).
 * The 2xx goes out only after the store has the message; anything else leaves the store unchanged.
 *
 * @module
 */
import { escapeControl } from "../text/control.ts";
import { type Envelope, EnvelopeSchema, eventKey, MSG_ID_PATTERN } from "../coder.ts";
import { type Destination, route } from "../destinations/destination.ts";
import { logger } from "../log.ts";
import type { RelayMetrics } from "../metrics.ts";
import type { Outbox } from "../store/store.ts";
import { readBody } from "./body.ts";
import { HttpError } from "./errors.ts";
import { issuesOf, summarizeIssues } from "../issues.ts";

/** What the receiver needs. */
export interface ReceiverDeps {
  /** The receiver only ever accepts. */
  readonly store: Pick<Outbox, "accept">;
  readonly destinations: () => readonly Destination[] | Promise<readonly Destination[]>;
  readonly now: () => number;
  readonly maxBodyBytes: number;
  /** Deadline for the whole body (default `BODY_READ_TIMEOUT_MS` of `body.ts`). */
  readonly bodyTimeoutMs?: number;
  readonly dedupeWindowMs: number;
  /** Called after each stored message, with its envelope and body, so delivery starts at once. */
  readonly onAccepted: (envelope: Envelope, body: Uint8Array) => void;
  /** Counts outcomes and store latency. */
  readonly metrics?: RelayMetrics;
}

const log = logger("webhook");
const decoder = new TextDecoder();

/** A route's own checks on the parsed JSON, before envelope validation; throws to refuse. */
export type Precheck = (json: Record<string, unknown>) => void;

/** Parses and validates a body as a Coder envelope, or throws 400 with the precise reason. */
export function parseEnvelope(bytes: Uint8Array, precheck?: Precheck): Envelope {
  if (bytes.byteLength === 0) throw invalid("request body is empty; expected a Coder webhook JSON");
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw invalid(`body is not valid JSON: ${escapeControl((err as Error).message)}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw invalid(
      `body must be a JSON object (a Coder webhook envelope), got ${
        Array.isArray(json) ? "an array" : json === null ? "null" : typeof json
      }`,
    );
  }
  precheck?.(json as Record<string, unknown>);
  const parsed = EnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    throw invalid(`not a Coder webhook: ${summarizeIssues(issuesOf(parsed.error))}`);
  }
  return parsed.data;
}

function invalid(message: string): HttpError {
  return new HttpError(400, "invalid_body", message);
}

/** Handles one webhook request; throws {@link HttpError} (or a store error) for the error map. */
export async function receive(
  deps: ReceiverDeps,
  req: Request,
  precheck?: Precheck,
): Promise<Response> {
  const started = performance.now();
  const bytes = await readBody(req, deps.maxBodyBytes, deps.bodyTimeoutMs);
  const envelope = parseEnvelope(bytes, precheck);
  const { msg_id: msgId, payload } = envelope;
  const header = req.headers.get("x-message-id");
  if (header !== null && !MSG_ID_PATTERN.test(header)) {
    throw invalid(
      "X-Message-Id header: must be 1-128 characters from A-Z a-z 0-9 . _ : - (msg_id)",
    );
  }
  if (header !== null && header !== msgId) {
    throw invalid(`X-Message-Id header (${header}) does not match msg_id in the body (${msgId})`);
  }
  const targets = route(await deps.destinations(), envelope);
  const event = payload.notification_name;
  if (targets.length === 0) {
    deps.metrics?.accepted.inc({ result: "ignored" });
    log.info("ignored {msgId} ({event}): no destination tracks it", { msgId, event });
    return Response.json({ status: "ignored", msg_id: msgId, reason: "event not tracked" });
  }
  const key = targets.some((d) => d.sink.dedupeFanout) ? eventKey(payload) : undefined;
  const writeStarted = performance.now();
  const result = await deps.store.accept({
    msgId,
    receivedAt: deps.now(),
    name: event,
    body: bytes,
    destinations: targets.map((d) => ({
      id: d.id,
      eventKey: d.sink.dedupeFanout ? key : undefined,
    })),
    dedupeWindowMs: deps.dedupeWindowMs,
  });
  deps.metrics?.storeWriteLatency.observe((performance.now() - writeStarted) / 1000);
  deps.metrics?.accepted.inc({ result: result.status === "created" ? "stored" : "duplicate" });
  const latencyMs = Math.round((performance.now() - started) * 100) / 100;
  if (result.status === "duplicate") {
    log.info("duplicate {msgId} ({event}): already stored, nothing changed", {
      msgId,
      event,
      latencyMs,
    });
    return Response.json({ status: "duplicate", msg_id: msgId });
  }
  deps.onAccepted(envelope, bytes);
  const deliveries = result.deliveries.map((d) => ({ destination: d.destination, state: d.state }));
  log.info("accepted {msgId} ({event}) for {destinations} in {latencyMs} ms", {
    msgId,
    event,
    destinations: deliveries.map((d) => `${d.destination}:${d.state}`).join(","),
    latencyMs,
  });
  return Response.json({ status: "accepted", msg_id: msgId, deliveries }, { status: 202 });
}

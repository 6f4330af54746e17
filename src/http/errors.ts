/**
 * The one place errors become HTTP statuses. Handlers throw; this maps. Clients get a short JSON
 * reason, never a stack trace; unexpected errors are logged here with their detail.
 *
 * @module
 */
import { type Issue, summarizeIssues } from "../issues.ts";
import { logger } from "../log.ts";
import { createLogLimiter, suppressedNote } from "../log_limit.ts";
import { UnsupportedTypeError } from "../sinks/sink.ts";
import {
  BodyTooLargeForStoreError,
  InvalidCursorError,
  StoreUnavailableError,
} from "../store/store.ts";

/** An error with the status and message the client should see. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    /** A stable machine-readable code, e.g. `invalid_body`. */
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Machine-readable detail for the body, e.g. validation issues with their field paths. */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const log = logger("http");
/** A full disk fails every request the same way: one line per second says so. */
const errors = createLogLimiter(1000);

/** A 400 whose body lists every issue with its field path. */
export function invalidInput(code: string, issues: readonly Issue[]): HttpError {
  return new HttpError(400, code, summarizeIssues(issues), {}, { issues });
}

/** Maps any thrown value to a JSON error response. */
export function errorResponse(err: unknown): Response {
  const e = httpErrorOf(err);
  const body = e.details === undefined
    ? { error: e.code, message: e.message }
    : { error: e.code, message: e.message, details: e.details };
  return Response.json(body, {
    status: e.status,
    headers: e.headers,
  });
}

/** The status and code any thrown value stands for; logs the unexpected ones (once, here). */
export function httpErrorOf(err: unknown): HttpError {
  let e: HttpError;
  if (err instanceof HttpError) e = err;
  else if (err instanceof InvalidCursorError) e = new HttpError(400, "invalid_cursor", err.message);
  else if (err instanceof UnsupportedTypeError) {
    e = new HttpError(400, "type_unavailable", err.message);
  } else if (err instanceof BodyTooLargeForStoreError) {
    e = new HttpError(413, "body_too_large", err.message);
  } else if (err instanceof StoreUnavailableError) {
    const { emit, suppressed } = errors.check(`store ${err.message}`);
    if (emit) {
      log.error("store unavailable: {error}{suppressed}", {
        error: err.message,
        suppressed: suppressedNote(suppressed),
      });
    }
    e = new HttpError(
      503,
      "store_unavailable",
      "the relay cannot store messages right now; retry",
      {
        "retry-after": "5",
      },
    );
  } else {
    const { emit, suppressed } = errors.check(`unexpected ${(err as Error)?.message}`);
    if (emit) {
      log.error("unexpected error: {error}{suppressed}", {
        error: err instanceof Error ? err.stack : String(err),
        suppressed: suppressedNote(suppressed),
      });
    }
    e = new HttpError(500, "internal_error", "internal error");
  }
  return e;
}

/**
 * How the operator commands reach a relay: through the admin API (`/api/v1`), either over HTTP to
 * a running relay (`--url`/`RELAY_URL` with `--token`/`RELAY_ADMIN_TOKEN`: Deno Deploy, a
 * container, a PostgreSQL fleet) or in this process, over the relay's own store. Both run the same
 * handlers, so each command has one implementation, the same JSON and the same operator log lines.
 *
 * @module
 */
import { Hono } from "hono";
import { createAdminRoutes } from "../admin/api.ts";
import { type Config, readDotEnv } from "../config.ts";
import { createDestinations } from "../destinations/create.ts";
import { errorResponse, HttpError } from "../http/errors.ts";
import { UnsupportedTypeError } from "../sinks/sink.ts";
import { openKvStore } from "../store/kv.ts";
import { isPostgresUrl } from "../store/open.ts";
import { InvalidCursorError, type Store } from "../store/store.ts";
import {
  type Flags,
  OperationError,
  storeExists,
  toolConfig,
  UsageError,
  withStore,
} from "./common.ts";

/** The admin API, wherever it runs. */
export interface AdminClient {
  /**
   * Calls `/api/v1{path}` and returns the JSON answer (undefined for 204).
   *
   * @throws {ApiError} for an answer that is not 2xx, {@linkcode OperationError} when the relay
   * cannot be reached.
   */
  // deno-lint-ignore no-explicit-any
  call(method: string, path: string, body?: unknown): Promise<any>;
  /** What is being talked to, for messages: the relay's URL (no credentials) or its store. */
  readonly where: string;
}

/** The admin API refused: its status, its `error` code and its message. */
export class ApiError extends OperationError {
  override name = "ApiError";
  constructor(
    readonly status: number,
    code: string,
    message: string,
    /** The API's machine-readable detail (validation issues with their paths), for `--json`. */
    readonly details?: unknown,
  ) {
    super(message, code);
  }
}

/** The flags that choose remote mode; every operator command takes them. */
export const REMOTE_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
} as const;

/** Help lines for {@linkcode REMOTE_OPTIONS}. */
export const REMOTE_HELP =
  `  --url URL         work on the relay at URL through its admin API instead of opening
                    RELAY_STORE (default: RELAY_URL); e.g. https://relay.example.com
  --token TOKEN     the relay's RELAY_ADMIN_TOKEN (default: RELAY_ADMIN_TOKEN; prefer the
                    variable: a flag shows in the process list)`;

/** Environment variables only the command line reads (the README lists them with the rest). */
export const CLI_ENV_VARS = ["RELAY_URL"] as const;

/**
 * `text` with the user name and password of every URL in it replaced, for messages. Up to the
 * last `@` of the word: a password may hold `#`, `/` or `@` unencoded, and redacting too much is
 * harmless.
 */
export function redactUrl(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)\S*@/gi, "$1***@");
}

/** Where the commands go: a relay's base URL and token, or undefined for the local store. */
export async function remoteTarget(
  flags: Flags,
): Promise<{ url: string; token: string } | undefined> {
  const dotEnv = await readDotEnv(".env").catch(() => ({} as Record<string, string>));
  const fromEnv = (name: string) => (Deno.env.get(name) ?? dotEnv[name])?.trim() || undefined;
  const url = (flags.url as string | undefined)?.trim() || fromEnv("RELAY_URL");
  if (!url) {
    if (flags.token !== undefined) throw new UsageError("--token needs --url (or RELAY_URL)");
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url/RELAY_URL: not a URL: ${redactUrl(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UsageError(`--url/RELAY_URL: expected an http(s) URL, got ${redactUrl(url)}`);
  }
  if (parsed.username || parsed.password) {
    throw new UsageError(
      `--url/RELAY_URL must not carry credentials (${redactUrl(url)}): ` +
        "pass the admin token with --token or RELAY_ADMIN_TOKEN",
    );
  }
  const token = (flags.token as string | undefined)?.trim() || fromEnv("RELAY_ADMIN_TOKEN");
  if (!token) {
    throw new UsageError(`remote mode (${parsed.origin}) needs --token or RELAY_ADMIN_TOKEN`);
  }
  return { url: url.replace(/\/+$/, ""), token };
}

/** Reads an admin API answer: its JSON, or an {@linkcode ApiError} carrying the API's reason. */
async function answer(res: Response, where: string): Promise<unknown> {
  const text = await res.text();
  let json: { error?: unknown; message?: unknown; details?: unknown } | undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch { /* a proxy's HTML page, say */ }
  if (res.ok) {
    if (text && json === undefined) {
      throw new OperationError(
        `${where} answered without JSON: is it a coder-relay?`,
        "bad_answer",
      );
    }
    return json;
  }
  const code = typeof json?.error === "string" ? json.error : `http_${res.status}`;
  let message = typeof json?.message === "string"
    ? json.message
    : `${where} answered HTTP ${res.status}`;
  if (res.status === 401 || (res.status === 403 && code === "forbidden")) {
    message += " (check --token or RELAY_ADMIN_TOKEN)";
  }
  throw new ApiError(res.status, code, message, json?.details);
}

/** Why a fetch threw, cause included ("fetch failed" alone says nothing). */
function reasonOf(err: unknown): string {
  const e = err as Error;
  if (e?.name === "TimeoutError") return "no answer within 60 s";
  const cause = (e?.cause as Error | undefined)?.message;
  return (cause ? `${e.message}: ${cause}` : String(e?.message ?? err))
    .replace(/error sending request for url \([^)]*\):?\s*/i, "");
}

/** The admin API of the relay at `url`, over HTTP. */
export function remoteClient(url: string, token: string, fetchFn = fetch): AdminClient {
  const where = redactUrl(url);
  return {
    where,
    async call(method, path, body) {
      let res: Response;
      try {
        res = await fetchFn(`${url}/api/v1${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(60_000),
        });
      } catch (err) {
        throw new OperationError(
          `cannot reach the relay at ${where}: ${redactUrl(reasonOf(err))}`,
          "unreachable",
        );
      }
      return await answer(res, where);
    },
  };
}

/**
 * The admin API in this process, over `store`. Changes reach a running relay at its next poll
 * (pause switches and re-queued deliveries live in the store).
 */
export function localClient(config: Config, store: Store, where: string): AdminClient {
  const api = new Hono({ strict: false });
  api.route(
    "/api/v1",
    createAdminRoutes({
      store,
      destinations: createDestinations(config, { fetch, now: Date.now, store }),
      allowPrivate: config.allowPrivateDestinations,
      onPauseChanged: () => {},
      onRequeued: () => {},
      now: Date.now,
    }),
  );
  // The API's own refusals answer as over HTTP; anything else (the store failing) is told in one
  // line below, not logged with a stack as a server would.
  api.onError((err) => {
    if (
      err instanceof HttpError || err instanceof InvalidCursorError ||
      err instanceof UnsupportedTypeError
    ) return errorResponse(err);
    throw err;
  });
  return {
    where,
    async call(method, path, body) {
      let res: Response;
      try {
        res = await api.request(`http://relay.local/api/v1${path}`, {
          method,
          headers: body === undefined ? {} : { "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        throw new OperationError(
          `${where}: ${redactUrl((err as Error).message)}`,
          "store_error",
        );
      }
      return await answer(res, where);
    },
  };
}

/**
 * Runs `fn` with the admin API the flags choose. Locally, `store: "required"` commands need the
 * relay's store (they change or read its records); `"optional"` ones (test sends, listing
 * destinations) fall back to an empty in-memory store, so they work before the relay first ran.
 */
export async function withClient<T>(
  flags: Flags,
  store: "required" | "optional",
  fn: (client: AdminClient) => Promise<T>,
): Promise<T> {
  const remote = await remoteTarget(flags);
  if (remote) return await fn(remoteClient(remote.url, remote.token));
  const config = await toolConfig();
  const where = isPostgresUrl(config.store) ? "the PostgreSQL store" : `store ${config.store}`;
  if (store === "required" || isPostgresUrl(config.store) || await storeExists(config)) {
    return await withStore(config, (s) => fn(localClient(config, s, where)));
  }
  const empty = await openKvStore(":memory:");
  try {
    return await fn(localClient(config, empty, "the environment's destinations"));
  } finally {
    await empty.close();
  }
}

/**
 * Test helpers: real HTTP stub servers on port 0, the relay built in-process or as a real
 * subprocess, Coder's golden webhook bodies, and a poll-until helper. No fetch mocks anywhere.
 *
 * @module
 */
import { type AppDeps, createApp } from "../../src/app.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import type { Envelope } from "../../src/coder.ts";
import { openKvStore } from "../../src/store/kv.ts";
import type { DeliveryRecord, DeliveryState, Store } from "../../src/store/store.ts";
import { denoCommand, ROOT } from "./relay_process.ts";

/** A request the stub saw, body already read. */
export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: Headers;
  readonly body: string;
  readonly at: number;
}

/** A real HTTP server on 127.0.0.1:0 that records requests and answers with `handler`. */
export interface Stub extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly seen: Seen[];
  /** Replaces how the stub answers from now on. */
  handler: (req: Seen) => Response | Promise<Response>;
  close(): Promise<void>;
}

/** Starts a stub; `await using` closes it. */
export function startStub(
  handler: (req: Seen) => Response | Promise<Response> = () => Response.json({ ok: true }),
  port = 0,
): Stub {
  const seen: Seen[] = [];
  const stub = {
    seen,
    handler,
  } as Stub & { handler: Stub["handler"] };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      const s: Seen = {
        method: req.method,
        path: url.pathname + url.search,
        headers: req.headers,
        body: await req.text(),
        at: Date.now(),
      };
      seen.push(s);
      const res = await stub.handler(s);
      // No keep-alive: an idle pooled connection would hold up shutdown() on older Deno (2.5).
      const headers = new Headers(res.headers);
      headers.set("connection", "close");
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    },
  );
  const close = async () => {
    await server.shutdown();
  };
  return Object.assign(stub, {
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    close,
    [Symbol.asyncDispose]: close,
  });
}

/** Answers with each response in turn, then repeats the last. */
export function sequence(...responses: (() => Response)[]): () => Response {
  let i = 0;
  return () => responses[Math.min(i++, responses.length - 1)]();
}

/** Config for tests: fast retries, in-memory store, PlatformX at `platformxUrl` with a key. */
export function testConfig(env: Record<string, string> = {}): Config {
  return parseConfig({
    RELAY_STORE: ":memory:",
    GETDX_API_KEY: "test-key",
    RELAY_RETRY_MIN_MS: "20",
    RELAY_RETRY_MAX_MS: "200",
    RELAY_SEND_TIMEOUT_MS: "2000",
    RELAY_LEASE_MS: "5000",
    RELAY_POLL_MS: "20",
    LOG_LEVEL: "ERROR",
    ...env,
  });
}

/** An in-process relay on a `:memory:` KV store (or the given one), served on a real port. */
export interface TestRelay extends AsyncDisposable {
  readonly url: string;
  readonly app: ReturnType<typeof createApp>;
  post(body: unknown, init?: { headers?: Record<string, string>; path?: string }): Promise<
    { status: number; json: Record<string, unknown> }
  >;
}

/** Builds and serves the relay; `await using` stops it and closes its store. */
export async function startRelay(
  config: Config,
  deps: Partial<Omit<AppDeps, "config">> = {},
): Promise<TestRelay> {
  const store = deps.store ?? await openKvStore(config.store);
  const app = createApp({ config, ...deps, store });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.handler);
  app.start();
  const url = `http://127.0.0.1:${server.addr.port}`;
  const close = async () => {
    await server.shutdown();
    await app.close();
  };
  return {
    url,
    app,
    async post(body, init = {}) {
      const res = await fetch(`${url}${init.path ?? "/"}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...init.headers },
        body: typeof body === "string" || body instanceof Uint8Array
          ? body as BodyInit
          : JSON.stringify(body),
      });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text);
      } catch { /* non-JSON answers keep {} */ }
      return { status: res.status, json };
    },
    [Symbol.asyncDispose]: close,
  };
}

/** Where Coder's golden bodies live, in the repo (see `tests/fixtures/coder/README.md`). */
export const GOLDEN_DIR = new URL("../fixtures/coder", import.meta.url).pathname;

/** Every golden body, by file name. */
export async function goldenFiles(): Promise<Map<string, Envelope>> {
  const out = new Map<string, Envelope>();
  const names: string[] = [];
  for await (const e of Deno.readDir(GOLDEN_DIR)) {
    if (e.isFile && e.name.endsWith(".json")) names.push(e.name);
  }
  if (names.length === 0) throw new Error(`no golden files in ${GOLDEN_DIR}`);
  for (const name of names.sort()) {
    out.set(name, JSON.parse(await Deno.readTextFile(`${GOLDEN_DIR}/${name}`)));
  }
  return out;
}

/** One golden body with a fresh `msg_id` (and any payload overrides). */
export async function golden(
  file: string,
  payload: Record<string, unknown> = {},
  msgId: string = crypto.randomUUID(),
): Promise<Envelope> {
  const env = JSON.parse(await Deno.readTextFile(`${GOLDEN_DIR}/${file}`)) as Envelope;
  return { ...env, msg_id: msgId, payload: { ...env.payload, ...payload } };
}

/** `data` as a real Coder server attaches it to workspace events (docs/coder.md). */
export function workspaceData(ownerEmail = "owner@example.com") {
  return {
    workspace: { id: "6d0c2a4e-0000-4000-8000-000000000001", name: "bobby-workspace" },
    template: { id: "6d0c2a4e-0000-4000-8000-000000000002", name: "bobby-template" },
    template_version: { id: "6d0c2a4e-0000-4000-8000-000000000003", name: "alpha" },
    owner: { id: "6d0c2a4e-0000-4000-8000-000000000004", name: "bobby", email: ownerEmail },
    parameters: [{ name: "db_password", value: "hunter2" }],
  };
}

/** `data` as a real Coder server attaches it to the admin copies of account events. */
export function userData(email = "subject@example.com") {
  return { user: { id: "6d0c2a4e-0000-4000-8000-000000000005", name: "subject", email } };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 5000,
  what = "condition",
): Promise<Exclude<T, undefined | null | false | 0 | "">> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, undefined | null | false | 0 | "">;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until the delivery of `msgId` to `destination` reaches `state`, and returns it. */
export function waitForDelivery(
  store: Store,
  msgId: string,
  state: DeliveryState,
  destination = "platformx",
  timeoutMs = 5000,
): Promise<DeliveryRecord> {
  return waitFor(
    async () => {
      const m = await store.getMessage(msgId);
      const d = m?.deliveries.find((x) => x.destination === destination);
      return d?.state === state ? d : undefined;
    },
    timeoutMs,
    `${msgId} → ${destination} to be ${state}`,
  );
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A relay running as a real `deno run main.ts` process. */
export interface RelayProcess extends AsyncDisposable {
  readonly url: string;
  readonly child: Deno.ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Sends a signal and waits for the exit status. */
  kill(signal: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** A free loopback port (bound then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

/**
 * Starts `main.ts serve` with only `env` set (see `relay_process.ts`), in a temporary working
 * directory, and waits for /readyz. `entry` paths are relative to the repo root.
 */
export async function startRelayProcess(
  env: Record<string, string>,
  entry: string[] = ["main.ts"],
): Promise<RelayProcess> {
  // Port 0 where the relay's INFO line will say which port it got; a port picked here otherwise
  // (another process may take it first: rare, and then the relay exits and the test says so).
  const logsPort = /^(debug|info)$/i.test(env.LOG_LEVEL ?? "INFO");
  const port = env.PORT ?? (logsPort ? "0" : String(freePort()));
  const cwd = await Deno.makeTempDir({ prefix: "coder-relay-cwd-" });
  const child = denoCommand("run", [
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    "--allow-sys",
    ...(entry[0].endsWith(".ts") ? [] : ["--unstable-kv"]),
    ...entry.map((e, i) => i === 0 && !e.startsWith("/") ? `${ROOT}${e}` : e),
    "serve",
  ], {
    cwd,
    env: { HOST: "127.0.0.1", LOG_LEVEL: "INFO", ...env, PORT: port },
  }).spawn();
  let out = "";
  const decoder = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let url = `http://127.0.0.1:${port}`;
  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then(async (s) => {
    exited = s;
    await pumps;
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
    return s;
  });
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`relay exited with ${exited.code} before ready:\n${out}`);
        if (port === "0") {
          const bound = out.match(/listening on http:\/\/[^\s:"]+:(\d+)/)?.[1];
          if (!bound) return false;
          url = `http://127.0.0.1:${bound}`;
        }
        try {
          const res = await fetch(`${url}/readyz`);
          await res.body?.cancel();
          return res.ok;
        } catch {
          return false;
        }
      },
      20_000,
      "relay process to be ready",
    );
  } catch (err) {
    if (!exited) child.kill("SIGKILL");
    await status;
    throw err;
  }
  const kill = async (signal: Deno.Signal) => {
    if (!exited) child.kill(signal);
    return await status;
  };
  return {
    url,
    child,
    output: () => out,
    kill,
    [Symbol.asyncDispose]: async () => {
      await kill("SIGKILL");
    },
  };
}

/** Runs `fn` with a temporary `RELAY_CONFIG` file holding `content` (JSON unless a string). */
export async function withConfigFile<T>(
  content: unknown,
  fn: (path: string) => Promise<T> | T,
): Promise<T> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/relay.json`;
  await Deno.writeTextFile(path, typeof content === "string" ? content : JSON.stringify(content));
  try {
    return await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

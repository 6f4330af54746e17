/**
 * Test helpers for the console over plain HTTP: sign in, get pages, post forms as the console's
 * own pages do (same origin, CSRF token).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Envelope } from "../../src/coder.ts";
import type { DeliveryState } from "../../src/store/store.ts";
import { ADMIN_TOKEN } from "./admin.ts";
import { golden, type TestRelay, waitForDelivery, workspaceData } from "./stubs.ts";

/** A signed-in console session. */
export interface ConsoleSession {
  readonly cookie: string;
  get(path: string): Promise<{ status: number; text: string; headers: Headers }>;
  /** Posts a form with the CSRF token of the page at `from`, from the relay's own origin. */
  post(path: string, fields: Record<string, string>, from?: string): Promise<{
    status: number;
    text: string;
    headers: Headers;
  }>;
}

/** The CSRF token in a page's forms. */
export function csrfOf(html: string): string {
  const m = html.match(/name="csrf" value="([^"]+)"/);
  assert.ok(m, "the page has a CSRF field");
  return m[1];
}

/** Signs in with `token` and returns the session (asserting it worked). */
export async function signIn(base: string, token = ADMIN_TOKEN): Promise<ConsoleSession> {
  const res = await fetch(`${base}/ui/login`, {
    method: "POST",
    redirect: "manual",
    headers: { origin: base, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }),
  });
  await res.body?.cancel();
  assert.equal(res.status, 303);
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
  const request = async (path: string, init: RequestInit = {}) => {
    const r = await fetch(`${base}${path}`, {
      ...init,
      redirect: "manual",
      headers: { cookie, ...init.headers as Record<string, string> },
    });
    return { status: r.status, text: await r.text(), headers: r.headers };
  };
  return {
    cookie,
    get: (path) => request(path),
    async post(path, fields, from = "/ui") {
      const csrf = csrfOf((await request(from)).text);
      return await request(path, {
        method: "POST",
        headers: { origin: base, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf, ...fields }),
      });
    },
  };
}

/**
 * Posts a "Workspace Created" (for workspace `name`, a distinct event so fan-out dedupe keeps it;
 * without, the fixture's own) and waits until its delivery to platformx reaches `state`.
 */
export async function postWorkspaceCreated(
  relay: TestRelay,
  state: DeliveryState,
  name?: string,
): Promise<Envelope> {
  const env = await golden(
    "TemplateWorkspaceCreated.json",
    name === undefined ? { data: workspaceData() } : {
      data: workspaceData(`${name}@example.com`),
      labels: { workspace_name: name },
    },
  );
  assert.equal((await relay.post(env)).status, 202);
  await waitForDelivery(relay.app.store, env.msg_id, state);
  return env;
}

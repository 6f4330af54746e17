/**
 * Test helpers for the admin API: an authenticated JSON client over real HTTP.
 *
 * @module
 */

import type { Config } from "../../src/config.ts";
import { checkAgainstSpec } from "./openapi.ts";
import { testConfig } from "./stubs.ts";

/** The admin token the admin tests configure. */
export const ADMIN_TOKEN = "admin-token-0123456789abcdef";

/** {@linkcode testConfig} with the admin API enabled. */
export function adminConfig(env: Record<string, string> = {}): Config {
  // Subscriptions in tests point at loopback stubs: allow exactly that.
  return testConfig({
    RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
    RELAY_ALLOW_PRIVATE_DESTINATIONS: "127.0.0.1/32",
    ...env,
  });
}

/** A JSON answer with its raw text (to prove secrets are absent from it). */
export interface AdminAnswer {
  readonly status: number;
  readonly headers: Headers;
  // deno-lint-ignore no-explicit-any
  readonly json: any;
  readonly text: string;
}

/**
 * Calls the relay at `base` with the admin token (or `token`, or none with `null`), and checks the
 * answer against the OpenAPI document.
 */
export async function adminCall(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = ADMIN_TOKEN,
): Promise<AdminAnswer> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch { /* metrics and 204s are not JSON */ }
  checkAgainstSpec(method, path, res.status, json);
  return { status: res.status, headers: res.headers, json, text };
}

/**
 * Finds a subject's email when the event does not carry one (Workspace Deleted, User account
 * deleted…): Coder's REST API by username, cached with a TTL for hits and a shorter one for misses,
 * so a burst of events about one person costs one lookup.
 *
 * @module
 */
import { type Fetch, request } from "./sinks/http.ts";
import { createTtlCache, singleFlight } from "./ttl_cache.ts";

/** What a lookup found. `temporary` failures are retried by the caller; the others are final. */
export type Identity =
  | { readonly kind: "found"; readonly email: string }
  | { readonly kind: "missing"; readonly reason: string }
  | { readonly kind: "temporary"; readonly reason: string };

/** Resolves usernames to emails. */
export interface IdentityResolver {
  resolve(username: string): Promise<Identity>;
}

/** Options for {@linkcode createCoderResolver}. */
export interface CoderResolverOptions {
  readonly url: string;
  readonly sessionToken: string;
  readonly fetch: Fetch;
  readonly now: () => number;
  readonly timeoutMs: number;
  readonly hitTtlMs?: number;
  readonly missTtlMs?: number;
  readonly maxEntries?: number;
}

/** A resolver backed by `GET /api/v2/users/{username}` with a `Coder-Session-Token`. */
export function createCoderResolver(opts: CoderResolverOptions): IdentityResolver {
  const hitTtl = opts.hitTtlMs ?? 10 * 60_000;
  const missTtl = opts.missTtlMs ?? 60_000;
  const max = opts.maxEntries ?? 10_000;
  const cache = createTtlCache<Identity>(opts.now, max);
  const remember = (username: string, value: Identity, ttl: number) =>
    cache.set(username, value, ttl);

  const once = singleFlight<Identity>();

  return {
    resolve(username) {
      const key = username.toLowerCase();
      return once(key, () => lookup(key, username));
    },
  };

  async function lookup(key: string, username: string): Promise<Identity> {
    const hit = cache.get(key);
    if (hit) return hit;
    const answer = await request(
      opts.fetch,
      `${opts.url}/api/v2/users/${encodeURIComponent(username)}`,
      {
        headers: { "coder-session-token": opts.sessionToken, accept: "application/json" },
        timeoutMs: opts.timeoutMs,
      },
    );
    if (answer.kind !== "response") {
      return { kind: "temporary", reason: `Coder user lookup failed: ${answer.reason}` };
    }
    const { status } = answer;
    if (status === 200) {
      let email: unknown;
      try {
        email = (JSON.parse(answer.text) as { email?: unknown }).email;
      } catch { /* handled below */ }
      if (typeof email === "string" && email.includes("@")) {
        return remember(key, { kind: "found", email }, hitTtl);
      }
      return remember(key, { kind: "missing", reason: "Coder user has no email" }, missTtl);
    }
    if (status === 404 || status === 400) {
      return remember(
        key,
        { kind: "missing", reason: `Coder has no user "${username}" (HTTP ${status})` },
        missTtl,
      );
    }
    if (status === 401 || status === 403) {
      return {
        kind: "missing",
        reason: `Coder rejected CODER_SESSION_TOKEN (HTTP ${status}); fix it, then replay`,
      };
    }
    return { kind: "temporary", reason: `Coder user lookup answered HTTP ${status}` };
  }
}

/**
 * A `fetch` for destinations created through the admin API that cannot reach private addresses
 * ({@link ./address_guard.ts}). The check runs inside the connection's DNS lookup, so the address
 * checked is the address connected to: a name that resolves to a public address when the
 * subscription is saved and to `127.0.0.1` when the message is sent (DNS rebinding) is still refused.
 * Redirects are never followed. Destinations from the environment or the config file are the
 * operator's and use plain `fetch` ({@linkcode fetchForSource}).
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Readable } from "node:stream";
import { type AddressAllowlist, checkAddress, parseIp } from "./address_guard.ts";

/** The error a guarded request fails with; its message says which address and how to allow it. */
export class BlockedAddressError extends Error {
  override name = "BlockedAddressError";
}

/** Where a destination was defined (see `Destination.source`). */
export type DestinationSource = "env" | "config" | "api";

/**
 * The fetch a destination's sink gets: guarded for admin-API destinations, `plain` for the
 * operator's own (environment and config file).
 */
export function fetchForSource(
  source: DestinationSource,
  plain: typeof fetch,
  allowlist: AddressAllowlist,
): typeof fetch {
  return source === "api" ? createGuardedFetch(allowlist) : plain;
}

/** Throws {@linkcode BlockedAddressError} unless `host` (name or literal) may be reached. */
export async function assertHostAllowed(host: string, allowlist: AddressAllowlist): Promise<void> {
  const bare = host.replace(/^\[|\]$/g, "");
  const addresses = parseIp(bare) ? [bare] : (await resolveAll(bare)).map((a) => a.address);
  for (const address of addresses) {
    const decision = checkAddress(address, host, allowlist);
    if (!decision.allowed) throw new BlockedAddressError(decision.reason);
  }
}

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true }, (err, addresses) => err ? reject(err) : resolve(addresses));
  });
}

/** A `fetch` that refuses private addresses unless allowlisted, checked at connect time. */
export function createGuardedFetch(allowlist: AddressAllowlist): typeof fetch {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`unsupported protocol ${url.protocol}`);
    }
    // A literal address needs no lookup, so node would skip the hook: check it here.
    const literal = url.hostname.replace(/^\[|\]$/g, "");
    if (parseIp(literal)) {
      const decision = checkAddress(literal, url.hostname, allowlist);
      if (!decision.allowed) throw new BlockedAddressError(decision.reason);
    }
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    return await send(url, req, body, allowlist, init?.signal ?? undefined);
  };
}

function send(
  url: URL,
  req: Request,
  body: Uint8Array | undefined,
  allowlist: AddressAllowlist,
  signal: AbortSignal | undefined,
): Promise<Response> {
  const headers: Record<string, string> = {};
  req.headers.forEach((v, k) => headers[k] = v);
  if (body) headers["content-length"] = String(body.byteLength);
  const lib = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const request = lib.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port || undefined,
      path: url.pathname + url.search,
      method: req.method,
      headers,
      signal,
      lookup: (host: string, opts: unknown, cb: LookupCallback) => {
        resolveAll(host).then((addresses) => {
          for (const a of addresses) {
            const decision = checkAddress(a.address, host, allowlist);
            if (!decision.allowed) return cb(new BlockedAddressError(decision.reason), []);
          }
          const all = (opts as { all?: boolean } | undefined)?.all;
          if (all) cb(null, addresses);
          else cb(null, addresses[0].address, addresses[0].family);
        }, (err) => cb(err, []));
      },
    }, (res) => {
      const status = res.statusCode ?? 502;
      const out = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined) continue;
        for (const value of Array.isArray(v) ? v : [v]) out.append(k, value);
      }
      const noBody = status === 204 || status === 304 || req.method === "HEAD";
      const stream = noBody ? null : Readable.toWeb(res) as ReadableStream<Uint8Array>;
      if (noBody) res.resume();
      try {
        resolve(new Response(stream, { status: clampStatus(status), headers: out }));
      } catch (err) {
        res.destroy();
        reject(err);
      }
    });
    request.on("error", (err: Error) => {
      if (signal?.aborted) reject(signal.reason);
      else reject(err);
    });
    request.end(body);
  });
}

// deno-lint-ignore no-explicit-any
type LookupCallback = (err: Error | null, address: any, family?: number) => void;

function clampStatus(status: number): number {
  return status >= 200 && status <= 599 ? status : 502;
}

/**
 * The console's only way into the relay: the admin API, called in-process with the admin token.
 * The console shows exactly what the API shows (secrets redacted, no message content) and needs
 * nothing from the store.
 *
 * @module
 */

/** An admin API answer. */
export interface ApiAnswer {
  readonly status: number;
  // deno-lint-ignore no-explicit-any
  readonly json: any;
}

/** Calls `/api/v1{path}`. */
export type Api = (method: string, path: string, body?: unknown) => Promise<ApiAnswer>;

/** An {@linkcode Api} over a fetch handler (the relay's own router) and the admin token. */
export function createApiClient(
  handler: (req: Request) => Response | Promise<Response>,
  token: string,
): Api {
  return async (method, path, body) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await handler(
      new Request(`http://relay.internal/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
}

/** A query string from the set values of `params`. */
export function qs(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

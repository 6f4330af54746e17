/**
 * `Deno.serve` that survives running out of file descriptors. Deno's accept loop ends the server
 * on `EMFILE` ("Too many open files"), which ended the whole relay. Here the server is started
 * again on the same address after a pause, so while descriptors are exhausted new connections are
 * refused, and once clients let go the relay answers again: refused and recovered, never exited.
 *
 * @module
 */

/** What to run and how to report it. */
export interface ResilientServeOptions {
  readonly hostname: string;
  readonly port: number;
  readonly signal: AbortSignal;
  readonly onListen: (addr: Deno.NetAddr) => void;
  readonly onError: (err: unknown) => Response | Promise<Response>;
  /** The server stopped on a resource error and will be started again after `retryMs`. */
  readonly onRestart: (err: Error, retryMs: number) => void;
  readonly retryMs?: number;
}

/** Whether the accept loop died of something a pause cures (descriptors, buffers). */
export function isResourceExhaustion(err: unknown): boolean {
  return /too many open files|os error 24|os error 23|no buffer space|os error 105/i.test(
    String((err as Error)?.message ?? err),
  );
}

/** Serves until `signal` aborts; resolves then. Rejects only on errors a pause does not cure. */
export async function serveResilient(
  opts: ResilientServeOptions,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Promise<void> {
  const retryMs = opts.retryMs ?? 1000;
  let port = opts.port;
  let first = true;
  while (!opts.signal.aborted) {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: opts.hostname,
        port,
        signal: opts.signal,
        onListen: (addr) => {
          port = addr.port; // a restart keeps the port even when 0 was asked for
          if (first) opts.onListen(addr);
          first = false;
        },
        onError: opts.onError,
      }, handler);
    } catch (err) {
      if (first || !isResourceExhaustion(err)) throw err;
      opts.onRestart(err as Error, retryMs);
      await pause(retryMs, opts.signal);
      continue;
    }
    try {
      await server.finished;
      return;
    } catch (err) {
      if (!isResourceExhaustion(err)) throw err;
      opts.onRestart(err as Error, retryMs);
      await pause(retryMs, opts.signal);
    }
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

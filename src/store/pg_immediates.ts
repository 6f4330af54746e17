/**
 * A guard for a Deno < 2.6 bug that crashes the PostgreSQL store under load: an immediate may still
 * run after `clearImmediate`. postgres.js buffers small writes until an immediate and, when a large
 * write comes first, sends the buffer at once and clears the immediate; on Deno 2.5 the stale
 * immediate then writes `null` and the process dies with "May not write null values to stream"
 * (denoland/deno#29262; seen with several replicas' worth of concurrent queries). Deno 2.6
 * reimplemented immediates; there the guard is not installed.
 *
 * @module
 */

/** Whether this runtime is one that needs the guard. */
function affected(): boolean {
  const [major, minor] = Deno.version.deno.split(".").map(Number);
  return major < 2 || (major === 2 && minor < 6);
}

let installed = false;

/** The two globals as postgres.js calls them (Deno 2.5's types do not declare them). */
interface ImmediateGlobals {
  setImmediate(callback: (...args: unknown[]) => void, ...args: unknown[]): object;
  clearImmediate(immediate?: object | null): void;
}

/** Makes a cleared immediate never run, for every module (postgres.js uses the globals). */
export function guardClearedImmediates(): void {
  if (installed || !affected()) return;
  installed = true;
  const g = globalThis as unknown as ImmediateGlobals;
  const cleared = new WeakSet<object>();
  const set = g.setImmediate.bind(globalThis);
  const clear = g.clearImmediate.bind(globalThis);
  g.setImmediate = (callback, ...args) => {
    const immediate = set(() => {
      if (!cleared.has(immediate)) callback(...args);
    });
    return immediate;
  };
  g.clearImmediate = (immediate) => {
    if (immediate) cleared.add(immediate);
    clear(immediate);
  };
}

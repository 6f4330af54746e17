/**
 * One relay per Deno KV file. Two processes on one SQLite file both start and then fight over it
 * (`database is locked` 503s, deliveries that fail to record). An exclusive advisory lock on a file
 * next to the store, taken at start and held for the process's life, makes the second one refuse to
 * start instead. The operating system drops the lock when the process dies, even by SIGKILL.
 *
 * @module
 */

/** A held lock; `release()` on shutdown. */
export interface KvLock {
  readonly path: string;
  release(): void;
}

/** The lock is held by another process. */
export class StoreLockedError extends Error {
  override name = "StoreLockedError";
}

/** Whether `RELAY_STORE` is a KV file that needs the lock (not `:memory:`, Deploy or Postgres). */
export function needsKvLock(store: string): boolean {
  return store !== ":memory:" && store !== "deploy" && !/^postgres(ql)?:\/\//i.test(store);
}

/**
 * Takes the lock for the KV file at `storePath` (`<storePath>.lock`), or returns undefined when this
 * Deno cannot lock without blocking (`FsFile.tryLock` is Deno 2.7+).
 *
 * @throws {StoreLockedError} when another process holds it.
 */
export async function lockKvFile(storePath: string): Promise<KvLock | undefined> {
  const path = `${storePath}.lock`;
  const dir = path.replace(/[/\\][^/\\]*$/, "");
  if (dir && dir !== path) await Deno.mkdir(dir, { recursive: true });
  const file = await Deno.open(path, { create: true, write: true });
  const tryLock = (file as { tryLock?: (exclusive: boolean) => Promise<boolean> }).tryLock;
  if (typeof tryLock !== "function") {
    file.close();
    return undefined;
  }
  if (!(await tryLock.call(file, true))) {
    file.close();
    throw new StoreLockedError(
      `RELAY_STORE: ${storePath} is in use by another relay process (lock ${path}); ` +
        "stop it first, or give each relay its own store",
    );
  }
  return {
    path,
    release() {
      file.close();
    },
  };
}

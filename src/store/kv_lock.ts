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
 * How long a Deno without `FsFile.tryLock` (before 2.7) waits for the blocking lock before it counts
 * the store as held by another process.
 */
const BLOCKING_LOCK_WAIT_MS = 500;

/**
 * Takes the lock for the KV file at `storePath` (`<storePath>.lock`). Deno 2.7+ asks without
 * blocking (`FsFile.tryLock`); older Denos (Deno Deploy's 2.5) take the blocking lock raced against
 * a short wait. Such a lost race leaves the lock request waiting, so the caller must exit the process
 * (`main.ts` does on any failure) rather than return and wait for it.
 *
 * @throws {StoreLockedError} when another process holds it.
 */
export async function lockKvFile(storePath: string): Promise<KvLock> {
  const path = `${storePath}.lock`;
  const dir = path.replace(/[/\\][^/\\]*$/, "");
  if (dir && dir !== path) await Deno.mkdir(dir, { recursive: true });
  const file = await Deno.open(path, { create: true, write: true });
  const tryLock = (file as { tryLock?: (exclusive: boolean) => Promise<boolean> }).tryLock;
  const locked = typeof tryLock === "function"
    ? await tryLock.call(file, true)
    : await lockWithin(file, BLOCKING_LOCK_WAIT_MS);
  if (!locked) {
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

/** The blocking lock, or false when it is not granted within `ms`. */
async function lockWithin(file: Deno.FsFile, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      file.lock(true).then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

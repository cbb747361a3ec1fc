import type { PoolClient } from "pg";
import type { Db } from "../client.ts";

/** Begins a transaction whose reads all see one snapshot, and that writes nothing. */
export const READ_ONLY_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/**
 * Runs `fn` in a transaction on a pooled client of its own: committed when it returns,
 * rolled back when it throws. With `deadlockRetries`, a transaction Postgres aborted to
 * break a deadlock (40P01, as with a dedupe writer locking the same stories) is run again,
 * up to that many more times.
 */
export async function inTransaction<T>(
  db: Db,
  fn: (client: PoolClient) => Promise<T>,
  opts: { begin?: string; deadlockRetries?: number } = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const client = await db.$client.connect();
    try {
      await client.query(opts.begin ?? "BEGIN");
      const out = await fn(client);
      await client.query("COMMIT");
      return out;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      if ((err as { code?: string }).code !== "40P01" || attempt >= (opts.deadlockRetries ?? 0)) throw err;
    } finally {
      client.release();
    }
  }
}

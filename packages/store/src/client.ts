import pg from "pg";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import * as schema from "./schema.ts";

export type Db = NodePgDatabase<typeof schema> & { $client: pg.Pool };

export interface DbHandle {
  db: Db;
  pool: pg.Pool;
  /** Ends the pool; safe to call twice. */
  close(): Promise<void>;
}

export interface CreateDbOptions {
  /** Pool size (default 10). */
  max?: number;
  applicationName?: string;
}

/** Opens a pool to `url`. Nothing connects until the first query. */
export function createDb(url: string, opts: CreateDbOptions = {}): DbHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? "newsfeed",
  });
  // A client that loses its connection (Postgres restarted: 57P01, network
  // cut) must not crash the process. pg reports an idle client's loss on the
  // pool; a checked-out client's on the client itself, where no listener would
  // make it an uncaught 'error'. The query in flight still rejects, and the pool
  // drops the broken client, so the job fails and is retried.
  pool.on("error", () => {});
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  const db = drizzle(pool, { schema }) as Db;
  let closed: Promise<void> | undefined;
  return {
    db,
    pool,
    close: () => (closed ??= pool.end()),
  };
}

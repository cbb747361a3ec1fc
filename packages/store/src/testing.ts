/** Test helpers: a fresh, migrated database per test file. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDb, type DbHandle } from "./client.ts";
import { runMigrations } from "./migrate.ts";

export const TEST_ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase extends DbHandle {
  url: string;
  name: string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** Creates and migrates a uniquely named database; `drop()` removes it. */
export async function createTestDatabase(prefix = "nf_test"): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const url = databaseUrl(name);
  await runMigrations(url);
  const handle = createDb(url, { max: 8 });
  return {
    ...handle,
    url,
    name,
    async drop() {
      await handle.close();
      await dropDatabase(name);
    },
  };
}

/** The URL of database `name` on the test server (TEST_DATABASE_URL's server and credentials). */
export function databaseUrl(name: string): string {
  const url = new URL(TEST_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops database `name` on the test server, closing its other connections; absent is fine. */
export async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import { createDb } from "./client.ts";
import { StoreError } from "./errors.ts";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../migrations", import.meta.url));

interface Journal {
  entries: { idx: number; when: number; tag: string }[];
}

async function journal(): Promise<Journal> {
  return JSON.parse(await readFile(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8")) as Journal;
}

/** Creates the database named in `url` when it does not exist yet (connecting to `postgres`). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ""));
  if (!name) throw new StoreError("INVALID_INPUT", `DATABASE_URL names no database: ${redactUrl(url)}`);
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  try {
    await client.connect();
  } catch (cause) {
    throw new StoreError("DB_UNREACHABLE", `cannot connect to Postgres at ${redactUrl(url)}: ${(cause as Error).message}`, { cause });
  }
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  } catch (cause) {
    // Another process may have created it between our check and our CREATE.
    if ((cause as { code?: string }).code === "42P04") return false;
    throw cause;
  } finally {
    await client.end();
  }
}

export interface MigrateResult {
  createdDatabase: boolean;
  applied: number;
  total: number;
}

/** Creates the database if needed and applies every pending migration. */
export async function runMigrations(url: string): Promise<MigrateResult> {
  const createdDatabase = await ensureDatabase(url);
  const handle = createDb(url, { max: 1, applicationName: "newsfeed-migrate" });
  try {
    const before = await appliedCount(handle.pool);
    await migrate(handle.db, { migrationsFolder: MIGRATIONS_FOLDER });
    const after = await appliedCount(handle.pool);
    const total = (await journal()).entries.length;
    return { createdDatabase, applied: after - before, total };
  } finally {
    await handle.close();
  }
}

async function appliedCount(pool: pg.Pool): Promise<number> {
  const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass('drizzle.__drizzle_migrations') AS t`);
  if (!exists.rows[0]?.t) return 0;
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM drizzle.__drizzle_migrations`);
  return Number(rows[0]?.n ?? 0);
}

export interface SchemaStatus {
  applied: number;
  expected: number;
  upToDate: boolean;
}

/** Compares the applied migrations with those this code ships. */
export async function schemaStatus(pool: pg.Pool): Promise<SchemaStatus> {
  const expected = (await journal()).entries.length;
  const applied = await appliedCount(pool);
  return { applied, expected, upToDate: applied === expected };
}

/** Throws SCHEMA_BEHIND (or SCHEMA_AHEAD) unless the database matches this code's migrations. */
export async function assertSchemaCurrent(pool: pg.Pool): Promise<void> {
  let status: SchemaStatus;
  try {
    status = await schemaStatus(pool);
  } catch (cause) {
    if ((cause as { code?: string }).code === "3D000") {
      throw new StoreError("SCHEMA_BEHIND", `${(cause as Error).message}: run \`pnpm newsfeed migrate\``, { cause });
    }
    throw new StoreError("DB_UNREACHABLE", `cannot read the schema version: ${(cause as Error).message}`, { cause });
  }
  if (status.applied < status.expected) {
    throw new StoreError(
      "SCHEMA_BEHIND",
      `database schema is behind (${status.applied} of ${status.expected} migrations applied): run \`pnpm newsfeed migrate\``,
    );
  }
  if (status.applied > status.expected) {
    throw new StoreError(
      "SCHEMA_AHEAD",
      `database schema is newer than this code (${status.applied} migrations applied, this code knows ${status.expected}): upgrade newsfeed`,
    );
  }
}

/** Hides the password in a connection URL. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<invalid url>";
  }
}

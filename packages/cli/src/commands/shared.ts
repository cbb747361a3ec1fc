import { UsageError } from "../cli.ts";
import { loadConfig, type Config } from "../config.ts";
import { createDb, type DbHandle } from "@newsfeed/store";

/** Validates a feed URL given on the command line: absolute http(s). */
export function feedUrlArg(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`not a URL: '${text}' (give an absolute http:// or https:// URL)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new UsageError(`unsupported URL scheme '${u.protocol}' in '${text}' (use http or https)`);
  }
  return u.toString();
}

export function intArg(name: string, text: string | undefined, def: number, min = 1): number {
  if (text === undefined) return def;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, got '${text}'`);
  return n;
}

/** Runs `fn` with a database handle from the config, closing it after. */
export async function withDb<T>(fn: (db: DbHandle, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const db = createDb(config.DATABASE_URL, { max: 2, applicationName: "newsfeed-cli" });
  try {
    return await fn(db, config);
  } finally {
    await db.close();
  }
}

import { UsageError } from "../cli.ts";
import { loadConfig, type Config } from "../config.ts";
import { parseSince } from "../format.ts";
import { createDb, findFeed, type Db, type DbHandle, type Feed } from "@newsfeed/store";

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

/** A time option: a duration ago ("72h", "7d") or an ISO 8601 instant. */
export function timeArg(name: string, text: string): Date {
  const t = parseSince(text);
  if (!t) throw new UsageError(`--${name} must be a duration ago (72h, 7d) or an ISO time, got '${text}'`);
  return t;
}

/** A feed given by id or URL; unknown: a usage error. */
export async function feedArg(db: Db, text: string): Promise<Feed> {
  const feed = await findFeed(db, text);
  if (!feed) throw new UsageError(`no feed '${text}' (give a feed id or URL; see \`pnpm newsfeed feeds list\`)`);
  return feed;
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

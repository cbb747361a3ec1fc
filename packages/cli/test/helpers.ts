import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import type { Queue } from "bullmq";
import { expect, vi } from "vitest";
import { ownedKeyPatterns } from "@newsfeed/jobs";
import { listFeeds } from "@newsfeed/store";
import { databaseUrl, dropDatabase } from "@newsfeed/store/testing";
import { loadConfig, type Config } from "../src/config.ts";
import type { Runtime } from "../src/runtime.ts";

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const TSX = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));

/** What a CLI run left: its exit code and output. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `newsfeed <args>` as an operator does (tsx on packages/cli/src/main.ts, a process of its
 * own) with this process's environment, LOG_LEVEL=warn, and `env` over them.
 */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, opts: { cwd?: string; timeout?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      [MAIN, ...args],
      { cwd: opts.cwd, env: { ...process.env, LOG_LEVEL: "warn", ...env }, timeout: opts.timeout ?? 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A usage error as the CLI reports one: exit code 2, one line on stderr matching `msg`, nothing on stdout. */
export function expectUsageError(r: Run, msg: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(msg);
  expect(r.stdout).toBe("");
}

/** The environment that points a CLI run at a config's database, Redis and key prefix. */
export const cliEnv = (config: Pick<Config, "DATABASE_URL" | "REDIS_URL" | "NEWSFEED_REDIS_PREFIX">): NodeJS.ProcessEnv => ({
  DATABASE_URL: config.DATABASE_URL, REDIS_URL: config.REDIS_URL, NEWSFEED_REDIS_PREFIX: config.NEWSFEED_REDIS_PREFIX,
});

/**
 * A uniquely named database that does not exist yet (`newsfeed migrate` creates it, as an
 * operator's first run does); `drop()` removes it if it came to exist.
 */
export function scratchDatabase(prefix: string): { url: string; name: string; drop(): Promise<void> } {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  return { url: databaseUrl(name), name, drop: () => dropDatabase(name) };
}

/** A config for tests: the given database, a Redis prefix of its own, fast scheduling, no logs. */
export function testConfig(databaseUrl: string, extra: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    NEWSFEED_REDIS_PREFIX: `nf-test-${randomBytes(5).toString("hex")}`,
    SCHEDULER_INTERVAL_MS: "100",
    NEWSFEED_HTTP_PORT: "0",
    FETCH_ALLOW_PRIVATE: "127.0.0.1",
    LOG_LEVEL: "silent",
    ...extra,
  });
}

/** Calls `fn` with each page of the Redis keys newsfeed writes under `prefix` (the queues' `{prefix:q}` keys too). */
async function eachOwnedKeys(redis: Redis, prefix: string, fn: (keys: string[]) => Promise<unknown>): Promise<void> {
  for (const pattern of ownedKeyPatterns(prefix)) {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length) await fn(keys);
    } while (cursor !== "0");
  }
}

/** Deletes every Redis key newsfeed writes under the config's prefix. */
export async function dropRedisPrefix(config: Pick<Config, "REDIS_URL" | "NEWSFEED_REDIS_PREFIX">): Promise<void> {
  const redis = new Redis(config.REDIS_URL);
  try {
    await eachOwnedKeys(redis, config.NEWSFEED_REDIS_PREFIX, (keys) => redis.del(...keys));
  } finally {
    await redis.quit();
  }
}

/** Every Redis key newsfeed writes under `prefix`, with its serialized value: equal states mean no key was written. */
export async function redisState(redis: Redis, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await eachOwnedKeys(redis, prefix, async (keys) => {
    for (const k of keys) out[k] = (await redis.dumpBuffer(k))?.toString("hex") ?? "";
  });
  return out;
}

/** Waits until every feed of the runtime's database was checked at or after `since` and both queues are empty. */
export async function roundDone(rt: Pick<Runtime, "db" | "fetchQueue" | "itemsQueue">, since: Date): Promise<void> {
  await vi.waitFor(
    async () => {
      const feeds = await listFeeds(rt.db.db);
      expect(feeds.every((f) => f.lastCheckedAt !== null && f.lastCheckedAt >= since)).toBe(true);
      expect(await queuesIdle([rt.fetchQueue, rt.itemsQueue])).toBe(true);
    },
    { timeout: 30_000, interval: 100 },
  );
}

export async function queuesIdle(queues: Queue[]): Promise<boolean> {
  for (const q of queues) {
    const c = await q.getJobCounts("waiting", "active", "delayed", "prioritized", "paused", "failed");
    if (Object.values(c).some((n) => n > 0)) return false;
  }
  return true;
}

/** Every row of items, stories and story_items with its xmin: equal snapshots mean no row was written. */
export async function snapshotRows(pool: pg.Pool): Promise<string> {
  const parts: string[] = [];
  for (const table of ["items", "stories", "story_items"]) {
    const { rows } = await pool.query(`SELECT xmin::text AS xmin, * FROM ${table} ORDER BY 2, 3`);
    parts.push(JSON.stringify(rows));
  }
  return parts.join("\n");
}

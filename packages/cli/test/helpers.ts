import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type pg from "pg";
import type { Queue } from "bullmq";
import { ownedKeyPatterns } from "@newsfeed/jobs";
import { loadConfig, type Config } from "../src/config.ts";

/** A config for tests: the given database, a Redis prefix of its own, fast scheduling, no logs. */
export function testConfig(databaseUrl: string, extra: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    NEWSFEED_REDIS_PREFIX: `nf-test-${randomBytes(5).toString("hex")}`,
    SCHEDULER_INTERVAL_MS: "100",
    NEWSFEED_HTTP_PORT: "0",
    FETCH_ALLOW_PRIVATE: "127.0.0.1",
    LOG_LEVEL: "silent",
    ...extra,
  });
}

/** Deletes every Redis key under the config's prefix. */
export async function dropRedisPrefix(config: Config): Promise<void> {
  const redis = new Redis(config.REDIS_URL);
  try {
    for (const pattern of ownedKeyPatterns(config.NEWSFEED_REDIS_PREFIX)) {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
    }
  } finally {
    await redis.quit();
  }
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

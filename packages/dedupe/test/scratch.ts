/** A database and a Redis key prefix of a test's own, both removed after the file's tests. */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { ownedKeyPatterns } from "@newsfeed/jobs";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Deletes every key newsfeed writes under `prefix`: the index's, and the queues' under their `{prefix:q}` hash tag. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  for (const match of ownedKeyPatterns(prefix)) {
    for await (const keys of redis.scanStream({ match, count: 1000 }) as AsyncIterable<string[]>) if (keys.length) await redis.del(...keys);
  }
}

export interface Scratch {
  t: TestDatabase;
  /** A connection as workers open them. */
  redis: Redis;
  prefix: string;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A fresh migrated database and Redis prefix, dropped (keys deleted, connection closed) after the file's tests. */
export async function scratch(dbPrefix?: string): Promise<Scratch> {
  const t = await createTestDatabase(dbPrefix);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = `nf-test-${randomBytes(4).toString("hex")}`;
  cleanups.push(async () => {
    await dropPrefix(redis, prefix);
    await redis.quit();
    await t.drop();
  });
  return { t, redis, prefix };
}

/**
 * Graceful shutdown of `newsfeed run all` as a real process: SIGTERM while a dedupe batch is in
 * flight finishes it and exits 0, with every batch in Postgres whole or not at all, and a restart
 * brings the rest exactly once; a second signal exits at once (130); jobs still running at
 * SHUTDOWN_TIMEOUT_MS are abandoned, logged, and the process exits 1.
 */
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { queuePrefix, QUEUES, type ItemsJob } from "@newsfeed/jobs";
import { addFeed } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import { dropRedisPrefix, testConfig } from "./helpers.ts";
import { count, rowsOf, Service, serviceEnv, waitForItems, Workload } from "./services-harness.ts";

const FEEDS = 4;
const STORIES = 150; // per feed: two items jobs (100 + 50) per fetch
let t: TestDatabase;
let work: Workload;
let redis: Redis;
let itemsQueue: Queue;
let config: ReturnType<typeof testConfig>;
const services: Service[] = [];
const env = (extra: Record<string, string> = {}) => serviceEnv(t.url, config.REDIS_URL, config.NEWSFEED_REDIS_PREFIX, extra);
const start = (extra: Record<string, string> = {}) => {
  const s = new Service("all", env(extra));
  services.push(s);
  return s.started();
};

beforeAll(async () => {
  t = await createTestDatabase("nf_shutdown");
  config = testConfig(t.url);
  work = await new Workload(FEEDS, 600).start();
  redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  itemsQueue = new Queue(QUEUES.items, { connection: redis, prefix: queuePrefix(config.NEWSFEED_REDIS_PREFIX) });
});

afterAll(async () => {
  for (const s of services) s.kill();
  await Promise.all(services.map((s) => s.exited));
  await itemsQueue?.close();
  await redis?.quit();
  await work?.close();
  if (config) await dropRedisPrefix(config);
  await t?.drop();
});

describe("graceful shutdown", { timeout: 240_000 }, () => {
  it("SIGTERM mid-batch: the batch finishes, exit 0, every batch whole or absent, a restart brings the rest once", async () => {
    work.reveal("big", STORIES);
    for (const url of work.urls("big")) await addFeed(t.db, { url });
    // One batch at a time, and large ones: a batch is in flight while others wait.
    const svc = await start({ DEDUPE_CONCURRENCY: "1" });
    await vi.waitFor(
      async () => {
        expect(await itemsQueue.getActiveCount()).toBeGreaterThan(0);
        expect(await itemsQueue.getWaitingCount()).toBeGreaterThan(0);
      },
      { timeout: 120_000, interval: 20 },
    );
    expect(await svc.stop()).toBe(0);
    expect(svc.log).toMatch(/"jobs":[1-9]\d*,[^\n]*"msg":"jobs in hand finished"/);

    // Whole or absent: what is stored and what is still queued split the items, each batch on one side.
    const stored = new Set(
      (await t.pool.query(`SELECT feed_id, identity_key FROM items`)).rows.map((r) => `${r.feed_id}|${r.identity_key}`),
    );
    expect(stored.size).toBeGreaterThan(0);
    expect(stored.size).toBeLessThan(FEEDS * STORIES);
    expect(await itemsQueue.getActiveCount()).toBe(0);
    const left = await itemsQueue.getJobs(["waiting", "prioritized", "delayed", "active"]);
    let queued = 0;
    for (const job of left) {
      const keys = (job.data as ItemsJob).items.map((i) => `${i.feedId}|${i.identityKey}`);
      expect(keys.filter((k) => stored.has(k))).toEqual([]);
      queued += keys.length;
    }
    expect(stored.size + queued).toBe(FEEDS * STORIES);

    // Restarted, the rest arrives, once.
    const again = await start();
    await waitForItems(t.pool, FEEDS * STORIES);
    expect(await again.stop()).toBe(0);
    const rows = await rowsOf(t.pool);
    expect(new Set(rows.items).size).toBe(FEEDS * STORIES);
    expect(rows.clusters).toEqual(work.expectedClusters(STORIES));
  });

  it("a second signal exits at once with 130", async () => {
    work.hold("hang1");
    for (const url of work.urls("hang1").slice(0, 1)) await addFeed(t.db, { url });
    const svc = await start({ SHUTDOWN_TIMEOUT_MS: "120000" });
    await vi.waitFor(() => expect(work.pending.length).toBeGreaterThan(0), { timeout: 60_000, interval: 50 });
    svc.proc.kill("SIGTERM");
    await vi.waitFor(() => expect(svc.log).toContain("shutting down"), { timeout: 30_000, interval: 20 });
    svc.proc.kill("SIGTERM");
    const t0 = Date.now();
    expect(await svc.exited).toEqual({ code: 130, signal: null });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("past SHUTDOWN_TIMEOUT_MS the jobs in hand are abandoned, logged, and the exit code is 1", async () => {
    work.hold("hang2");
    const url = work.urls("hang2")[0]!;
    const { feed } = await addFeed(t.db, { url });
    const before = work.pending.length;
    const svc = await start({ SHUTDOWN_TIMEOUT_MS: "1000" });
    await vi.waitFor(() => expect(work.pending.length).toBeGreaterThan(before), { timeout: 60_000, interval: 50 });
    expect(await svc.stop()).toBe(1);
    expect(svc.log).toContain("shutdown deadline passed");
    expect(svc.log).toContain(`"feedId":${feed.id}`);
    // Nothing of the hanging feed was written.
    expect(await count(t.pool, `SELECT count(*) AS n FROM items i JOIN feeds f ON f.id = i.feed_id WHERE f.url = '${url}'`)).toBe(0);
  });
});

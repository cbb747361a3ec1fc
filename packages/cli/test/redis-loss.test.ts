/**
 * Redis lost mid-run (FLUSHALL of a private redis-server while the services run, with items
 * fetched and queued but not yet deduplicated): the runbook's recovery (docs/operations.md §4:
 * stop, `dedupe rebuild-index`, `replay fetches --all --since …`, run again) through the real
 * CLI ends with the same rows as an undisturbed run of the same workload.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { queuePrefix, QUEUES } from "@newsfeed/jobs";
import { addFeed } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import { count, newsfeed, privateRedis, rowsOf, Service, serviceEnv, waitForItems, Workload } from "./services-harness.ts";

const FEEDS = 3;
const FIRST = 4; // stories in the feeds at first
const THEN = 9; // … and after the second reveal
const PREFIX = "nf-redis-loss";
let dir = "";
let redisServer: Awaited<ReturnType<typeof privateRedis>>;
let work: Workload;
const dbs: TestDatabase[] = [];
const services: Service[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "nf-redis-loss-"));
  redisServer = await privateRedis(dir);
  work = await new Workload(FEEDS, 200).start();
});

afterAll(async () => {
  for (const s of services) s.kill();
  await Promise.all(services.map((s) => s.exited));
  await work?.close();
  await redisServer?.stop();
  for (const db of dbs) await db.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function setup(run: string) {
  const db = await createTestDatabase("nf_redis_loss");
  dbs.push(db);
  for (const url of work.urls(run)) await addFeed(db.db, { url });
  const env = serviceEnv(db.url, redisServer.url, `${PREFIX}-${run}`);
  const service = (role: string) => {
    const s = new Service(role, env);
    services.push(s);
    return s.started();
  };
  return { db, env, service };
}

describe("losing Redis mid-run", { timeout: 300_000 }, () => {
  it("the runbook's recovery reaches the rows of an undisturbed run", async () => {
    // Undisturbed: the feeds carry FIRST stories, then THEN.
    const calm = await setup("calm");
    work.reveal("calm", FIRST);
    const all = await calm.service("all");
    await waitForItems(calm.db.pool, FEEDS * FIRST);
    work.reveal("calm", THEN);
    await waitForItems(calm.db.pool, FEEDS * THEN);
    expect(await all.stop()).toBe(0);
    const expected = await rowsOf(calm.db.pool);
    expect(expected.clusters).toEqual(work.expectedClusters(THEN));

    // Disturbed: the first round is stored; then the dedupe service is down (a deploy) while the
    // new stories are fetched and queued, and Redis loses everything with the ingest running.
    const lost = await setup("lost");
    const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
    const items = new Queue(QUEUES.items, { connection: redis, prefix: queuePrefix(`${PREFIX}-lost`) });
    try {
      work.reveal("lost", FIRST);
      const ingest = await lost.service("ingest");
      const dedupe = await lost.service("dedupe");
      await waitForItems(lost.db.pool, FEEDS * FIRST);
      expect(await dedupe.stop()).toBe(0);
      work.reveal("lost", THEN);
      // Every feed's new items are fetched and queued (one items job per feed), none stored.
      await vi.waitFor(async () => expect(await items.getWaitingCount()).toBe(FEEDS), { timeout: 60_000, interval: 100 });
      expect(await redis.flushall()).toBe("OK");
      expect(await count(lost.db.pool, "SELECT count(*) AS n FROM items")).toBe(FEEDS * FIRST);
      expect(await items.getWaitingCount()).toBe(0);

      // docs/operations.md §4: stop the services, rebuild the index, replay, run again.
      expect(await ingest.stop()).toBe(0);
      for (const args of [["dedupe", "rebuild-index"], ["replay", "fetches", "--all", "--since", "2h"]]) {
        const r = await newsfeed(args, lost.env);
        expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: expect.any(String) });
      }
      const again = await lost.service("all");
      await waitForItems(lost.db.pool, FEEDS * THEN);
      expect(await again.stop()).toBe(0);
      expect(await rowsOf(lost.db.pool)).toEqual(expected);
    } finally {
      await items.close();
      await redis.quit();
    }
  });
});

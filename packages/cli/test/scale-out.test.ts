/**
 * Scale-out: two ingest and two dedupe processes against one Redis and one Postgres (each ingest
 * process runs a scheduler: feeds are claimed with FOR UPDATE SKIP LOCKED) leave the same rows
 * as one process of each kind, on the same workload.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addFeed } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import { dropRedisPrefix, testConfig } from "./helpers.ts";
import { count, rowsOf, Service, serviceEnv, waitForItems, Workload } from "./services-harness.ts";

const FEEDS = 8;
const STORIES = 12;
let work: Workload;
const dbs: TestDatabase[] = [];
const configs: ReturnType<typeof testConfig>[] = [];
const services: Service[] = [];

beforeAll(async () => {
  work = await new Workload(FEEDS, 200).start();
});

afterAll(async () => {
  for (const s of services) s.kill();
  await Promise.all(services.map((s) => s.exited));
  await work?.close();
  for (const c of configs) await dropRedisPrefix(c);
  for (const db of dbs) await db.drop();
});

/** Runs `n` ingest and `n` dedupe processes until every item is stored; returns the rows. */
async function runWith(n: number) {
  const run = `x${n}`;
  const db = await createTestDatabase("nf_scale_out");
  dbs.push(db);
  const config = testConfig(db.url);
  configs.push(config);
  for (const url of work.urls(run)) await addFeed(db.db, { url });
  work.reveal(run, STORIES);
  const env = serviceEnv(db.url, config.REDIS_URL, config.NEWSFEED_REDIS_PREFIX, { INGEST_CONCURRENCY: "2", DEDUPE_CONCURRENCY: "1" });
  const procs = ["ingest", "dedupe"].flatMap((role) => Array.from({ length: n }, () => new Service(role, env)));
  services.push(...procs);
  await Promise.all(procs.map((p) => p.started()));
  await waitForItems(db.pool, FEEDS * STORIES, 150_000);
  const codes = await Promise.all(procs.map((p) => p.stop()));
  expect(codes).toEqual(procs.map(() => 0));
  // Each feed was fetched by one process at a time: no feed has two fetches starting together.
  expect(await count(db.pool, "SELECT count(*) AS n FROM (SELECT feed_id, started_at FROM fetches GROUP BY 1, 2 HAVING count(*) > 1) d")).toBe(0);
  return { rows: await rowsOf(db.pool), procs };
}

describe("scale-out", { timeout: 300_000 }, () => {
  it("2 ingest + 2 dedupe processes leave the same rows as 1 + 1", async () => {
    const one = await runWith(1);
    expect(one.rows.clusters).toEqual(work.expectedClusters(STORIES));
    const two = await runWith(2);
    expect(two.rows).toEqual(one.rows);
  });
});

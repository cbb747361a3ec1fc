/**
 * The whole pipeline on real Redis and Postgres: the bundled sample outlets
 * served over HTTP on 127.0.0.1, the scheduler, the ingest and dedupe workers,
 * and the rows they leave in Postgres.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dedupeBatch } from "@newsfeed/dedupe";
import { conditionalGet, decodeBody, normalizeItems, parseFeed, pollFeed } from "@newsfeed/ingest";
import { addFeed, listFeeds, makeAllFeedsDue } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import { createLogger } from "../src/logger.ts";
import { createRuntime, startServices, type Runtime } from "../src/runtime.ts";
import { expectedClusters, OUTLETS } from "../src/sample/outlets.ts";
import { startSampleServer, type SampleServer } from "../src/sample/server.ts";
import { dropRedisPrefix, queuesIdle, roundDone, snapshotRows, testConfig } from "./helpers.ts";

let t: TestDatabase;
let sample: SampleServer;
let rt: Runtime;
const gold = expectedClusters();
const copies = [...gold.values()].reduce((n, c) => n + c.length, 0);

beforeAll(async () => {
  t = await createTestDatabase();
  sample = await startSampleServer(0);
  for (const url of sample.feedUrls) await addFeed(t.db, { url });
  const config = testConfig(t.url);
  rt = createRuntime(config, createLogger("silent", { pretty: false }));
  const since = new Date(Date.now() - 1000);
  await startServices(rt, "all");
  await roundDone(rt, since);
});

afterAll(async () => {
  await rt?.close();
  await sample?.close();
  if (rt) await dropRedisPrefix(rt.config);
  await t?.drop();
});

describe("end to end on the bundled sample", () => {
  it("stores every item once", async () => {
    const { rows } = await t.pool.query(`SELECT count(*)::int AS n, count(DISTINCT (feed_id, url))::int AS distinct_n FROM items`);
    expect(rows[0]).toEqual({ n: copies, distinct_n: copies });
    const { rows: orphans } = await t.pool.query(
      `SELECT count(*)::int AS n FROM items i LEFT JOIN story_items si ON si.item_id = i.id WHERE si.item_id IS NULL`,
    );
    expect(orphans[0].n).toBe(0);
  });

  it("puts each set of reprints in one story and keeps unrelated stories apart", async () => {
    const { rows } = await t.pool.query<{ url: string; story_id: string }>(
      `SELECT i.url, si.story_id FROM items i JOIN story_items si ON si.item_id = i.id`,
    );
    // url: http://127.0.0.1:<port>/<outlet>/<wire id>?utm_…
    const storyOf = new Map(rows.map((r) => [new URL(r.url).pathname.slice(1), r.story_id]));
    const storyPerCluster = new Map<string, string>();
    for (const [wireId, members] of gold) {
      const stories = new Set(members.map((m) => storyOf.get(m)));
      expect(stories, `copies of ${wireId}`).toEqual(new Set([stories.values().next().value]));
      storyPerCluster.set(wireId, [...stories][0]!);
    }
    expect(new Set(storyPerCluster.values()).size).toBe(gold.size);
    const { rows: stories } = await t.pool.query(`SELECT count(*)::int AS n FROM stories`);
    expect(stories[0].n).toBe(gold.size);
  });

  it("keeps story aggregates in step with the members", async () => {
    const { rows } = await t.pool.query(
      `SELECT s.id, s.copies, s.outlets, count(*)::int AS members, count(DISTINCT i.feed_id)::int AS feeds,
              bool_or(s.canonical_item_id = i.id) AS canonical_is_member
         FROM stories s JOIN story_items si ON si.story_id = s.id JOIN items i ON i.id = si.item_id
        GROUP BY s.id`,
    );
    for (const r of rows) {
      expect(r.copies).toBe(r.members);
      expect(r.outlets).toBe(r.feeds);
      expect(r.canonical_is_member).toBe(true);
    }
    expect(rows.map((r) => r.copies).sort()).toEqual([...gold.values()].map((c) => c.length).sort());
  });

  it("changes no row when the same feeds are fetched again", async () => {
    const before = await snapshotRows(t.pool);
    const since = new Date();
    await makeAllFeedsDue(t.db, since);
    await roundDone(rt, since);
    expect(await snapshotRows(t.pool)).toBe(before);
    const { rows } = await t.pool.query(
      `SELECT outcome, count(*)::int AS n FROM fetches WHERE started_at >= $1 GROUP BY outcome`,
      [since],
    );
    expect(rows).toEqual([{ outcome: "not_modified", n: OUTLETS.length }]);
  });

  it("processes the same items again when they are queued again after their jobs completed", async () => {
    // As after restoring Postgres from a backup while Redis kept its history.
    await t.pool.query("TRUNCATE story_merges, story_items, stories, items");
    for (const feed of await listFeeds(t.db)) await pollFeed(rt.pollDeps, feed.id, { force: true });
    await vi.waitFor(
      async () => {
        const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM items`);
        expect(rows[0].n).toBe(copies);
        expect(await queuesIdle([rt.itemsQueue])).toBe(true);
      },
      { timeout: 30_000, interval: 100 },
    );
  });

  it("changes no row when the same items are delivered again", async () => {
    const before = await snapshotRows(t.pool);
    for (const feed of await listFeeds(t.db)) {
      const res = await conditionalGet(feed.url, {}, rt.pollDeps.http);
      const parsed = await parseFeed(decodeBody(res.body, res.headers.get("content-type")));
      const items = normalizeItems(parsed, { feedId: feed.id, feedUrl: feed.url, seenAt: feed.lastSuccessAt! });
      const saved = await dedupeBatch(rt.dedupeDeps, items);
      expect(saved).toMatchObject({ itemsInserted: 0, itemsUpdated: 0, storiesCreated: 0, membershipsAdded: 0 });
    }
    expect(await snapshotRows(t.pool)).toBe(before);
  });
});

/** removeFeed: a feed goes with its items and fetches; its stories are recomputed or deleted. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addFeed, getFeed, recordFetch, removeFeed, saveAssignments, tableCounts, type AssignedItem, type RemoveFeedResult,
} from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase("nf_store_feeds");
});
afterAll(async () => {
  await t.drop();
});

const at = (h: number) => new Date(Date.UTC(2026, 10, 27, h));
const item = (over: Partial<AssignedItem> & Pick<AssignedItem, "feedId" | "identityKey" | "storyKey">): AssignedItem => ({
  guid: null, url: `https://x.example/${over.identityKey}`, canonicalUrl: null, title: `title ${over.identityKey}`, text: "some text",
  publishedAt: null, seenAt: at(10), contentHash: "h1", simhash: 1n, distance: 0, similarity: 1,
  ...over,
});

/** Each story's row, keyed by story key. */
async function stories(): Promise<Record<string, { copies: number; outlets: number; title: string; canonical: string | null; merged: boolean }>> {
  const { rows } = await t.pool.query<{ key: string; copies: number; outlets: number; title: string; canonical: string | null; merged: boolean }>(
    `SELECT s.key, s.copies, s.outlets, s.title, c.identity_key AS canonical, s.merged_into_id IS NOT NULL AS merged
       FROM stories s LEFT JOIN items c ON c.id = s.canonical_item_id ORDER BY s.key`,
  );
  return Object.fromEntries(rows.map(({ key, ...r }) => [key, r]));
}

/** Stories whose aggregates differ from a recomputation from their members. */
async function inconsistentStories(): Promise<unknown[]> {
  const { rows } = await t.pool.query(
    `SELECT s.key FROM stories s
       LEFT JOIN LATERAL (SELECT count(*)::int AS copies, count(DISTINCT i.feed_id)::int AS outlets
                            FROM story_items si JOIN items i ON i.id = si.item_id WHERE si.story_id = s.id) a ON true
      WHERE s.merged_into_id IS NULL AND (s.copies, s.outlets) IS DISTINCT FROM (a.copies, a.outlets)`,
  );
  return rows;
}

async function fixture(tag: string): Promise<{ doomed: number; kept: number }> {
  const doomed = (await addFeed(t.db, { url: `https://doomed-${tag}.example/rss` })).feed.id;
  const kept = (await addFeed(t.db, { url: `https://kept-${tag}.example/rss` })).feed.id;
  const k = (s: string) => `${tag}-${s}`;
  await saveAssignments(t.db, [
    // Shared: the doomed feed's copy is the earliest, so it is the canonical one.
    item({ feedId: doomed, identityKey: k("a1"), storyKey: k("SHARED"), publishedAt: at(1) }),
    item({ feedId: kept, identityKey: k("b1"), storyKey: k("SHARED"), publishedAt: at(2) }),
    // Only the doomed feed's copies.
    item({ feedId: doomed, identityKey: k("a2"), storyKey: k("ONLY"), seenAt: at(11) }),
    item({ feedId: doomed, identityKey: k("a3"), storyKey: k("ONLY"), seenAt: at(12) }),
    // Only the kept feed's.
    item({ feedId: kept, identityKey: k("b2"), storyKey: k("OTHER") }),
    item({ feedId: doomed, identityKey: k("a5"), storyKey: k("ROOT") }),
    item({ feedId: doomed, identityKey: k("a6"), storyKey: k("LOSER") }),
  ]);
  // LOSER merged into ROOT: both are the doomed feed's only.
  await saveAssignments(t.db, [item({ feedId: doomed, identityKey: k("a7"), storyKey: k("ROOT") })], [
    { from: k("LOSER"), into: k("ROOT"), feedId: doomed, identityKey: k("a7") },
  ]);
  for (const [feedId, h] of [[doomed, 1], [doomed, 2], [doomed, 3], [kept, 1]] as const) {
    await recordFetch(
      t.db,
      { feedId, startedAt: at(h), durationMs: 1, status: 200, outcome: "ok", bytes: 10, itemsFound: 0, bodyGzip: Buffer.alloc(64) },
      { nextCheckAt: at(20), error: null },
    );
  }
  return { doomed, kept };
}

describe("removeFeed", () => {
  it("counts in a dry run what it then removes, batch by batch, leaving consistent stories", async () => {
    const { doomed, kept } = await fixture("r1");
    const before = await stories();
    expect(before["r1-SHARED"]).toMatchObject({ copies: 2, outlets: 2, canonical: "r1-a1", title: "title r1-a1" });
    expect(before["r1-LOSER"]).toMatchObject({ merged: true, copies: 0 });
    const counts = await tableCounts(t.db);

    const want = { feedId: doomed, url: "https://doomed-r1.example/rss", items: 6, fetches: 3, storiesRecomputed: 1, storiesDeleted: 3 };
    const dry = await removeFeed(t.db, doomed, { dryRun: true });
    expect(dry).toEqual({ ...want, batches: 0 });
    expect(await tableCounts(t.db)).toEqual(counts);
    expect((await getFeed(t.db, doomed))?.state).toBe("active");

    const progress: RemoveFeedResult[] = [];
    const res = await removeFeed(t.db, doomed, { batchSize: 2, onProgress: (p) => void progress.push(p) });
    expect(res).toMatchObject(want);
    // 6 items 2 a transaction (the third full batch finds the end), the fetches, the feed.
    expect(res!.batches).toBeGreaterThanOrEqual(5);
    expect(progress.at(-1)).toEqual(res);
    expect(progress.map((p) => p.items)).toEqual([...progress.map((p) => p.items)].sort((a, b) => a - b));

    expect(await getFeed(t.db, doomed)).toBeUndefined();
    const after = await stories();
    expect(after["r1-SHARED"]).toEqual({ copies: 1, outlets: 1, canonical: "r1-b1", title: "title r1-b1", merged: false });
    expect(after["r1-OTHER"]).toEqual(before["r1-OTHER"]);
    for (const gone of ["r1-ONLY", "r1-ROOT", "r1-LOSER"]) expect(after[gone]).toBeUndefined();
    expect(await inconsistentStories()).toEqual([]);
    expect(await tableCounts(t.db)).toEqual({
      feeds: counts.feeds - 1, fetches: counts.fetches - 3, items: counts.items - 6, stories: counts.stories - 3,
      storyItems: counts.storyItems - 6,
    });
    const merges = await t.pool.query(`SELECT count(*)::int AS n FROM story_merges`);
    expect(merges.rows[0].n).toBe(0);
    // The other feed is untouched.
    expect((await getFeed(t.db, kept))?.state).toBe("active");
  });

  it("returns undefined for a feed that is not there", async () => {
    expect(await removeFeed(t.db, 987_654)).toBeUndefined();
    expect(await removeFeed(t.db, 987_654, { dryRun: true })).toBeUndefined();
  });

  it("removes in one go what a batch size larger than the feed allows, and a removed feed stays removed", async () => {
    const { doomed } = await fixture("r2");
    const res = await removeFeed(t.db, doomed, { batchSize: 10_000 });
    expect(res).toMatchObject({ items: 6, fetches: 3, storiesRecomputed: 1, storiesDeleted: 3 });
    expect(await removeFeed(t.db, doomed)).toBeUndefined();
    expect(await inconsistentStories()).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addFeed, assertSchemaCurrent, claimDueFeeds, createDb, ensureDatabase, listStories, recordFetches, saveAssignments,
  schemaStatus, StoreError, tableCounts, type AssignedItem,
} from "@newsfeed/store";
import { createTestDatabase, TEST_ADMIN_URL, type TestDatabase } from "@newsfeed/store/testing";
import pg from "pg";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

const item = (over: Partial<AssignedItem> & Pick<AssignedItem, "feedId" | "identityKey" | "storyKey">): AssignedItem => ({
  guid: null, url: null, canonicalUrl: null, title: `title ${over.identityKey}`, text: "some text",
  publishedAt: null, seenAt: new Date("2026-11-27T10:00:00Z"), contentHash: "h1", simhash: 1n, distance: 0, similarity: 1,
  ...over,
});

/** Every row of the pipeline's tables with its xmin: equal snapshots mean no row was written. */
async function snapshot(pool: pg.Pool): Promise<string> {
  const parts = [];
  for (const table of ["items", "stories", "story_items"]) {
    const { rows } = await pool.query(`SELECT xmin::text, * FROM ${table} ORDER BY 2, 3`);
    parts.push(JSON.stringify(rows));
  }
  return parts.join("\n");
}

describe("migrations", () => {
  it("leave the schema current", async () => {
    await expect(schemaStatus(t.pool)).resolves.toMatchObject({ upToDate: true });
    await expect(assertSchemaCurrent(t.pool)).resolves.toBeUndefined();
  });
  it("are required before services start", async () => {
    const url = new URL(TEST_ADMIN_URL);
    url.pathname = `/${t.name}_empty`;
    await ensureDatabase(url.toString());
    const empty = createDb(url.toString());
    try {
      await expect(assertSchemaCurrent(empty.pool)).rejects.toSatisfy(
        (e) => e instanceof StoreError && e.code === "SCHEMA_BEHIND" && /newsfeed migrate/.test(e.message),
      );
    } finally {
      await empty.close();
      const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE ${pg.escapeIdentifier(`${t.name}_empty`)} WITH (FORCE)`);
      await admin.end();
    }
  });
});

describe("feeds", () => {
  it("adds a URL once", async () => {
    const a = await addFeed(t.db, { url: "https://once.example/rss" });
    const b = await addFeed(t.db, { url: "https://once.example/rss" });
    expect(a.created).toBe(true);
    expect(b).toMatchObject({ created: false, feed: { id: a.feed.id } });
  });
  it("lets only one scheduler claim a due feed", async () => {
    const { feed } = await addFeed(t.db, { url: "https://claim.example/rss" });
    const now = new Date(Date.now() + 3600_000);
    const [x, y] = await Promise.all([
      claimDueFeeds(t.db, { limit: 100, leaseMs: 60_000, now }),
      claimDueFeeds(t.db, { limit: 100, leaseMs: 60_000, now }),
    ]);
    const claims = [...x, ...y].filter((f) => f.id === feed.id);
    expect(claims).toHaveLength(1);
  });
});

describe("saveAssignments", () => {
  it("stores items, stories and memberships, and saving again changes no row", async () => {
    const f1 = (await addFeed(t.db, { url: "https://s1.example/rss" })).feed.id;
    const f2 = (await addFeed(t.db, { url: "https://s2.example/rss" })).feed.id;
    const batch = [
      item({ feedId: f1, identityKey: "a", storyKey: "S1", publishedAt: new Date("2026-11-27T09:00:00Z"), text: "short" }),
      item({ feedId: f2, identityKey: "b", storyKey: "S1", publishedAt: new Date("2026-11-27T08:00:00Z"), distance: 3 }),
      item({ feedId: f2, identityKey: "c", storyKey: "S2" }),
    ];
    const first = await saveAssignments(t.db, batch);
    expect(first).toMatchObject({ itemsInserted: 3, storiesCreated: 2, membershipsAdded: 3 });
    const before = await snapshot(t.pool);
    const again = await saveAssignments(t.db, batch);
    expect(again).toEqual({
      itemsInserted: 0, itemsUpdated: 0, storiesCreated: 0, membershipsAdded: 0, storiesUpdated: 0, storiesMerged: 0,
    });
    expect(await snapshot(t.pool)).toBe(before);

    const stories = await listStories(t.db, { limit: 10 });
    const s1 = stories.find((s) => s.copies === 2)!;
    // Canonical member: the earliest published copy.
    expect(s1).toMatchObject({ outlets: 2, title: "title b" });
  });

  it("follows a new earliest copy and updates an edited item in place", async () => {
    const f = (await addFeed(t.db, { url: "https://s3.example/rss" })).feed.id;
    await saveAssignments(t.db, [item({ feedId: f, identityKey: "x", storyKey: "S3", publishedAt: new Date("2026-11-27T09:00:00Z") })]);
    await saveAssignments(t.db, [
      item({ feedId: f, identityKey: "y", storyKey: "S3", publishedAt: new Date("2026-11-27T07:00:00Z"), title: "earlier" }),
    ]);
    const res = await saveAssignments(t.db, [
      item({ feedId: f, identityKey: "x", storyKey: "S3", contentHash: "h2", title: "x edited", seenAt: new Date("2026-11-27T11:00:00Z") }),
    ]);
    expect(res).toMatchObject({ itemsInserted: 0, itemsUpdated: 1, membershipsAdded: 0 });
    const { rows } = await t.pool.query(
      `SELECT s.title, s.copies, (SELECT count(*)::int FROM items WHERE feed_id = $1) AS n FROM stories s WHERE key = 'S3'`,
      [f],
    );
    expect(rows[0]).toEqual({ title: "earlier", copies: 2, n: 2 });
    const counts = await tableCounts(t.db);
    expect(counts.items).toBe(counts.storyItems);
  });
});

describe("a batch that fails", () => {
  it("leaves nothing half-written: items, stories, memberships, fetches and feeds as before", async () => {
    const f = (await addFeed(t.db, { url: "https://atomic.example/rss" })).feed.id;
    await saveAssignments(t.db, [item({ feedId: f, identityKey: "kept", storyKey: "ATOMIC-1" })]);
    const before = await snapshot(t.pool);
    // The last row names a feed that does not exist: the whole batch is refused.
    await expect(saveAssignments(t.db, [
      item({ feedId: f, identityKey: "new-1", storyKey: "ATOMIC-2" }),
      item({ feedId: f, identityKey: "kept", storyKey: "ATOMIC-1", contentHash: "edited", text: "edited" }),
      item({ feedId: 999_999, identityKey: "orphan", storyKey: "ATOMIC-3" }),
    ])).rejects.toThrow();
    expect(await snapshot(t.pool)).toBe(before);

    const feedsBefore = JSON.stringify((await t.pool.query("SELECT xmin::text, * FROM feeds ORDER BY id")).rows);
    const fetchesBefore = (await t.pool.query("SELECT count(*)::int AS n FROM fetches")).rows[0].n;
    const ok = { startedAt: new Date(), durationMs: 1, status: 200, outcome: "ok" as const, bytes: 1, itemsFound: 0 };
    await expect(recordFetches(t.db, [
      { rec: { ...ok, feedId: f }, update: { nextCheckAt: new Date(), error: null } },
      { rec: { ...ok, feedId: 999_999 }, update: { nextCheckAt: new Date(), error: null } },
    ])).rejects.toThrow();
    expect((await t.pool.query("SELECT count(*)::int AS n FROM fetches")).rows[0].n).toBe(fetchesBefore);
    expect(JSON.stringify((await t.pool.query("SELECT xmin::text, * FROM feeds ORDER BY id")).rows)).toBe(feedsBefore);
  });
});

describe("story rows", () => {
  it("agree with their members, however the batches arrived", async () => {
    const f = (await addFeed(t.db, { url: "https://s4.example/rss" })).feed.id;
    const g = (await addFeed(t.db, { url: "https://s5.example/rss" })).feed.id;
    const at = (h: number) => new Date(Date.UTC(2026, 10, 27, h));
    // One batch founds two stories; a second adds copies to one of them and an edit.
    await saveAssignments(t.db, [
      item({ feedId: f, identityKey: "p1", storyKey: "P", publishedAt: at(5), text: "long text here" }),
      item({ feedId: g, identityKey: "p2", storyKey: "P", publishedAt: at(5), text: "longer text here!" }),
      item({ feedId: f, identityKey: "q1", storyKey: "Q", publishedAt: null, seenAt: at(9) }),
    ]);
    await saveAssignments(t.db, [
      item({ feedId: g, identityKey: "q2", storyKey: "Q", publishedAt: at(3), seenAt: at(10) }),
      item({ feedId: f, identityKey: "p1", storyKey: "P", contentHash: "h9", seenAt: at(11), text: "x" }),
    ]);
    // The rule, written independently: earliest published (else first seen), longest text, lowest id.
    const { rows } = await t.pool.query(
      `SELECT s.key, s.copies, s.outlets, s.first_seen_at, s.last_seen_at, s.canonical_item_id, s.title,
              m.copies AS m_copies, m.outlets AS m_outlets, m.first_seen AS m_first, m.last_seen AS m_last,
              (SELECT i.id FROM story_items si JOIN items i ON i.id = si.item_id WHERE si.story_id = s.id
                ORDER BY COALESCE(i.published_at, i.first_seen_at), length(i.text) DESC, i.id LIMIT 1) AS m_canon
         FROM stories s,
              LATERAL (SELECT count(*)::int AS copies, count(DISTINCT i.feed_id)::int AS outlets,
                              min(i.first_seen_at) AS first_seen, max(i.last_seen_at) AS last_seen
                         FROM story_items si JOIN items i ON i.id = si.item_id WHERE si.story_id = s.id) m
        WHERE s.key IN ('P', 'Q') ORDER BY s.key`,
    );
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect([r.copies, r.outlets, r.first_seen_at, r.last_seen_at, r.canonical_item_id]).toEqual([
        r.m_copies, r.m_outlets, r.m_first, r.m_last, r.m_canon,
      ]);
    }
    expect(rows.map((r) => [r.key, r.copies, r.title])).toEqual([
      ["P", 2, "title p2"], // same time: the longer text wins
      ["Q", 2, "title q2"], // published 03:00 beats first seen 09:00
    ]);
  });
});

describe("story merges", () => {
  it("move the loser's copies to the survivor, record the merge once, and hide the loser", async () => {
    const f = (await addFeed(t.db, { url: "https://m1.example/rss" })).feed.id;
    const g = (await addFeed(t.db, { url: "https://m2.example/rss" })).feed.id;
    await saveAssignments(t.db, [
      item({ feedId: f, identityKey: "ma", storyKey: "MA" }),
      item({ feedId: g, identityKey: "mb", storyKey: "MB" }),
    ]);
    const batch = [item({ feedId: g, identityKey: "mc", storyKey: "MA" })];
    const merges = [{ from: "MB", into: "MA", feedId: g, identityKey: "mc" }];
    const res = await saveAssignments(t.db, batch, merges);
    expect(res).toMatchObject({ itemsInserted: 1, storiesMerged: 1, membershipsAdded: 1 });
    const { rows } = await t.pool.query(
      `SELECT s.key, s.copies, s.outlets, s.merged_into_id IS NOT NULL AS merged,
              (SELECT count(*)::int FROM story_items si WHERE si.story_id = s.id) AS members
         FROM stories s WHERE key IN ('MA', 'MB') ORDER BY key`,
    );
    expect(rows).toEqual([
      { key: "MA", copies: 3, outlets: 2, merged: false, members: 3 },
      { key: "MB", copies: 0, outlets: 0, merged: true, members: 0 },
    ]);
    const m = await t.pool.query(
      `SELECT f.key AS from_key, i.key AS into_key, it.identity_key FROM story_merges sm
         JOIN stories f ON f.id = sm.from_story_id JOIN stories i ON i.id = sm.into_story_id
         JOIN items it ON it.id = sm.item_id`,
    );
    expect(m.rows).toEqual([{ from_key: "MB", into_key: "MA", identity_key: "mc" }]);
    expect((await listStories(t.db, { limit: 100 })).map((s) => s.title)).not.toContain("title mb");

    // Saved again (a redelivered job): nothing changes.
    const before = await snapshot(t.pool);
    expect(await saveAssignments(t.db, batch, merges)).toMatchObject({ storiesMerged: 0, membershipsAdded: 0 });
    expect(await snapshot(t.pool)).toBe(before);
  });

  it("send a late copy of a merged story to the survivor", async () => {
    const f = (await addFeed(t.db, { url: "https://m3.example/rss" })).feed.id;
    await saveAssignments(t.db, [item({ feedId: f, identityKey: "na", storyKey: "NA" })]);
    // The index merged NB into NA before NB's own copy was saved.
    await saveAssignments(t.db, [item({ feedId: f, identityKey: "nc", storyKey: "NA" })], [
      { from: "NB", into: "NA", feedId: f, identityKey: "nc" },
    ]);
    await saveAssignments(t.db, [item({ feedId: f, identityKey: "nb", storyKey: "NB" })]);
    const { rows } = await t.pool.query(
      `SELECT s.key, s.copies FROM stories s WHERE key IN ('NA', 'NB') ORDER BY key`,
    );
    expect(rows).toEqual([{ key: "NA", copies: 3 }, { key: "NB", copies: 0 }]);
  });
});

describe("an item delivered again under another story key", () => {
  it("stays in its first story and leaves the other story without counts", async () => {
    const f = (await addFeed(t.db, { url: "https://r1.example/rss" })).feed.id;
    await saveAssignments(t.db, [
      item({ feedId: f, identityKey: "ra", storyKey: "RA" }),
      item({ feedId: f, identityKey: "rb", storyKey: "RA" }),
    ]);
    // The index forgot rb (it expired) and made it found a story of its own.
    await saveAssignments(t.db, [item({ feedId: f, identityKey: "rb", storyKey: "RB" })]);
    const { rows } = await t.pool.query(`SELECT key, copies FROM stories WHERE key IN ('RA', 'RB') ORDER BY key`);
    expect(rows).toEqual([{ key: "RA", copies: 2 }, { key: "RB", copies: 0 }]);
    expect((await listStories(t.db, { limit: 100 })).some((s) => s.copies === 0)).toBe(false);
  });
});

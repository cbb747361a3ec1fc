/** Retention: old fetches, bodies, items and emptied stories go in small batches; the rest stays as it was. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import pg from "pg";
import {
  addFeed, createDb, prune, recordFetch, saveAssignments, type AssignedItem, type PruneProgress, type StoryMerge,
} from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase("nf_prune");
});
afterAll(async () => {
  await t.drop();
});
beforeEach(async () => {
  await t.pool.query(`TRUNCATE feeds, fetches, items, stories, story_items, story_merges RESTART IDENTITY CASCADE`);
});

const DAY = 86_400_000;
const CUTOFF = new Date("2026-06-01T00:00:00Z");
const daysFromCutoff = (d: number) => new Date(CUTOFF.getTime() + d * DAY);
const body = (n: number) => Buffer.alloc(n, 7);

async function feed(name: string): Promise<number> {
  return (await addFeed(t.db, { url: `https://${name}.example/rss` })).feed.id;
}

/** One fetch of `feedId` started `days` from the cutoff, with a body of `bytes` (0: none). */
async function fetchAt(feedId: number, days: number, bytes = 0): Promise<number> {
  return recordFetch(
    t.db,
    {
      feedId, startedAt: daysFromCutoff(days), durationMs: 5, status: 200, outcome: "ok", bytes: 100, itemsFound: 1,
      bodyGzip: bytes ? body(bytes) : null,
    },
    { nextCheckAt: new Date(), error: null },
  );
}

const item = (over: Partial<AssignedItem> & Pick<AssignedItem, "feedId" | "identityKey" | "storyKey">): AssignedItem => ({
  guid: null, url: `https://x.example/${over.identityKey}`, canonicalUrl: null, title: `title ${over.identityKey}`,
  text: `text of ${over.identityKey}`, publishedAt: null, seenAt: CUTOFF, contentHash: "h1", simhash: 1n, distance: 0,
  similarity: 1, ...over,
});
const old = (d = 10) => daysFromCutoff(-d);
const recent = (d = 10) => daysFromCutoff(d);

/** Every row of the tables with its xmin: equal snapshots mean no row was written. */
async function snapshot(tables = ["feeds", "fetches", "items", "stories", "story_items", "story_merges"]): Promise<string> {
  const parts: string[] = [];
  for (const table of tables) {
    const { rows } = await t.pool.query(`SELECT xmin::text AS xmin, * FROM ${table} ORDER BY 2, 3`);
    parts.push(JSON.stringify(rows));
  }
  return parts.join("\n");
}

/** Stories whose stored aggregates differ from what their members say (the rule written independently). */
async function wrongAggregates(): Promise<unknown[]> {
  const { rows } = await t.pool.query(
    `SELECT s.key, s.copies, s.outlets, s.first_seen_at, s.last_seen_at, s.canonical_item_id, s.title, s.url, m.*
       FROM stories s,
            LATERAL (SELECT count(*)::int AS m_copies, count(DISTINCT i.feed_id)::int AS m_outlets,
                            min(i.first_seen_at) AS m_first, max(i.last_seen_at) AS m_last
                       FROM story_items si JOIN items i ON i.id = si.item_id WHERE si.story_id = s.id) m
      WHERE s.merged_into_id IS NULL AND m.m_copies > 0`,
  );
  const wrong = [];
  for (const r of rows) {
    const canon = await t.pool.query(
      `SELECT i.id, i.title, COALESCE(i.canonical_url, i.url) AS url FROM story_items si JOIN items i ON i.id = si.item_id
        WHERE si.story_id = (SELECT id FROM stories WHERE key = $1)
        ORDER BY COALESCE(i.published_at, i.first_seen_at), length(i.text) DESC, i.id LIMIT 1`,
      [r.key],
    );
    const c = canon.rows[0]!;
    const got = [r.copies, r.outlets, r.first_seen_at, r.last_seen_at, r.canonical_item_id, r.title, r.url];
    const want = [r.m_copies, r.m_outlets, r.m_first, r.m_last, c.id, c.title, c.url];
    if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push({ key: r.key, got, want });
  }
  return wrong;
}

const keys = async (sql: string) => (await t.pool.query<{ k: string }>(sql)).rows.map((r) => r.k);

/**
 * Fetches of two feeds on both sides of the cutoff, and stories:
 * OLD (all copies old: goes), OLDM (merged into OLD: goes with it), MIX (its old canonical copy
 * goes, two recent copies stay), MIXM (merged into MIX: stays), NEW (all recent), EMPTY (no
 * copies left since long ago: goes), NEWEMPTY (no copies, recent: stays).
 */
async function seed() {
  const a = await feed("a");
  const b = await feed("b");
  for (let d = 1; d <= 6; d++) await fetchAt(a, -d * 10, d % 2 ? 1000 : 0); // bodies at -10, -30, -50
  for (let d = 1; d <= 3; d++) await fetchAt(a, d, 500);
  for (let d = 1; d <= 3; d++) await fetchAt(b, -d, 200);
  await fetchAt(b, 2, 0);
  await saveAssignments(t.db, [
    item({ feedId: a, identityKey: "e1", storyKey: "OLD", seenAt: old(50) }),
    item({ feedId: a, identityKey: "o1", storyKey: "OLD", seenAt: old(30) }),
    item({ feedId: b, identityKey: "o2", storyKey: "OLD", seenAt: old(29) }),
    item({ feedId: b, identityKey: "om", storyKey: "OLDM", seenAt: old(40) }),
    item({ feedId: a, identityKey: "m1", storyKey: "MIX", seenAt: old(5), publishedAt: old(6) }),
    item({ feedId: b, identityKey: "mm", storyKey: "MIXM", seenAt: old(20) }),
    item({ feedId: a, identityKey: "n1", storyKey: "NEW", seenAt: recent(1) }),
    item({ feedId: b, identityKey: "n2", storyKey: "NEW", seenAt: recent(2) }),
  ]);
  await saveAssignments(t.db, [item({ feedId: a, identityKey: "m2", storyKey: "MIX", seenAt: recent(3), text: "a longer text here" })]);
  await saveAssignments(t.db, [item({ feedId: b, identityKey: "m3", storyKey: "MIX", seenAt: recent(4) })], [
    { from: "MIXM", into: "MIX", feedId: b, identityKey: "m3" } satisfies StoryMerge,
  ]);
  await saveAssignments(t.db, [item({ feedId: a, identityKey: "o3", storyKey: "OLD", seenAt: old(28) })], [
    { from: "OLDM", into: "OLD", feedId: a, identityKey: "o3" },
  ]);
  // e1 delivered again under another key (the index had forgotten it): it stays in OLD, EMPTY keeps no copies.
  await saveAssignments(t.db, [item({ feedId: a, identityKey: "e1", storyKey: "EMPTY", seenAt: old(50) })]);
  await t.pool.query(
    `INSERT INTO stories (key, title, first_seen_at, last_seen_at) VALUES ('NEWEMPTY', '', $1, $1)`,
    [recent(1)],
  );
  expect(await wrongAggregates()).toEqual([]);
  return { a, b };
}

describe("prune of fetches", () => {
  it("deletes old fetches with their bodies, keeps recent ones, and leaves items and stories alone", async () => {
    await seed();
    const stories = await snapshot(["items", "stories", "story_items", "story_merges"]);
    const res = await prune(t.db, { before: CUTOFF, batchSize: 2 });
    expect(res).toMatchObject({
      fetchesDeleted: 9, bodiesRemoved: 6, bodyBytes: 3 * 1000 + 3 * 200, itemsDeleted: 0, storiesDeleted: 0, storiesUpdated: 0,
    });
    expect(res.batches).toBeGreaterThanOrEqual(5);
    const left = await t.pool.query(`SELECT started_at, octet_length(body_gzip) AS bytes FROM fetches ORDER BY feed_id, started_at`);
    expect(left.rows.every((r) => r.started_at >= CUTOFF)).toBe(true);
    expect(left.rows.map((r) => r.bytes)).toEqual([500, 500, 500, null]);
    expect(await snapshot(["items", "stories", "story_items", "story_merges"])).toBe(stories);
  });

  it("clears the bodies of kept fetches older than bodiesBefore, and keeps their rows", async () => {
    const { a } = await seed();
    const res = await prune(t.db, { before: CUTOFF, bodiesBefore: daysFromCutoff(2.5), batchSize: 1 });
    expect(res).toMatchObject({ fetchesDeleted: 9, bodiesRemoved: 6 + 2, bodyBytes: 3 * 1000 + 3 * 200 + 2 * 500 });
    const { rows } = await t.pool.query(
      `SELECT octet_length(body_gzip) AS bytes FROM fetches WHERE feed_id = $1 ORDER BY started_at`,
      [a],
    );
    expect(rows.map((r) => r.bytes)).toEqual([null, null, 500]);
  });

  it("finds every old fetch, in batches smaller than the data, whatever order they were written in", async () => {
    const feeds = [await feed("f1"), await feed("f2"), await feed("f3")];
    // 60 old and 30 recent fetches interleaved across feeds; then old fetches written after recent ones.
    await t.pool.query(
      `INSERT INTO fetches (feed_id, started_at, duration_ms, outcome, body_gzip)
       SELECT ($1::bigint[])[1 + g % 3], $2::timestamptz + (g - 60) * interval '1 hour', 1, 'ok',
              CASE WHEN g % 4 = 0 THEN '\\x00ff'::bytea END
         FROM generate_series(0, 89) g`,
      [feeds, CUTOFF],
    );
    await fetchAt(feeds[0]!, -100); // f1's oldest fetch, written last
    await fetchAt(feeds[1]!, 1);
    const res = await prune(t.db, { before: CUTOFF, batchSize: 7 });
    expect(res.fetchesDeleted).toBe(61);
    expect(res.bodiesRemoved).toBe(15);
    expect(res.batches).toBeGreaterThan(8);
    const { rows } = await t.pool.query(`SELECT count(*)::int AS n, min(started_at) AS first FROM fetches`);
    expect(rows[0]).toEqual({ n: 31, first: CUTOFF });
  });
});

describe("prune with items", () => {
  it("deletes old items and emptied stories, and leaves the surviving stories' aggregates right", async () => {
    await seed();
    const untouched = `SELECT key, xmin::text FROM stories WHERE key IN ('NEW', 'NEWEMPTY') ORDER BY key`;
    const before = await t.pool.query(untouched);
    const res = await prune(t.db, { before: CUTOFF, items: true, batchSize: 2 });
    // Items o1 o2 o3 om mm m1 e1 are old; MIX loses m1 (and got mm from MIXM); OLD, OLDM and EMPTY go.
    expect(res).toMatchObject({ fetchesDeleted: 9, itemsDeleted: 7, storiesDeleted: 3, storiesUpdated: 1 });
    expect(await keys(`SELECT identity_key AS k FROM items ORDER BY 1`)).toEqual(["m2", "m3", "n1", "n2"]);
    expect(await keys(`SELECT key AS k FROM stories ORDER BY 1`)).toEqual(["MIX", "MIXM", "NEW", "NEWEMPTY"]);
    expect(await wrongAggregates()).toEqual([]);
    const mix = await t.pool.query(`SELECT copies, outlets, title, first_seen_at FROM stories WHERE key = 'MIX'`);
    expect(mix.rows[0]).toEqual({ copies: 2, outlets: 2, title: "title m2", first_seen_at: recent(3) });
    // The merge into the surviving story is still recorded (its item kept), the one into OLD went with it.
    expect(await keys(`SELECT f.key || '>' || i.key AS k FROM story_merges m JOIN stories f ON f.id = m.from_story_id
                        JOIN stories i ON i.id = m.into_story_id`)).toEqual(["MIXM>MIX"]);
    // Stories that lost nothing were not rewritten (MIXM only lost its pointer to its former first copy, mm).
    expect((await t.pool.query(untouched)).rows).toEqual(before.rows);
    expect((await t.pool.query(`SELECT canonical_item_id FROM stories WHERE key = 'MIXM'`)).rows).toEqual([{ canonical_item_id: null }]);
  });

  it("removes nothing the second time", async () => {
    await seed();
    await prune(t.db, { before: CUTOFF, items: true, bodiesBefore: daysFromCutoff(2), batchSize: 3 });
    const snap = await snapshot();
    const again = await prune(t.db, { before: CUTOFF, items: true, bodiesBefore: daysFromCutoff(2), batchSize: 3 });
    expect(again).toEqual({
      fetchesDeleted: 0, bodiesRemoved: 0, bodyBytes: 0, itemsDeleted: 0, storiesUpdated: 0, storiesDeleted: 0, batches: 0,
    });
    expect(await snapshot()).toBe(snap);
  });
});

describe("a dry run", () => {
  it("changes nothing and counts what the run then removes", async () => {
    await seed();
    const snap = await snapshot();
    const opts = { before: CUTOFF, items: true, bodiesBefore: daysFromCutoff(2.5), batchSize: 2 };
    const dry = await prune(t.db, { ...opts, dryRun: true });
    expect(await snapshot()).toBe(snap);
    const real = await prune(t.db, opts);
    expect({ ...dry, batches: real.batches }).toEqual(real);
    expect(dry.fetchesDeleted).toBeGreaterThan(0);
  });
});

describe("writers during a prune", () => {
  it("are never waited for: rows they hold are skipped and left for the next run", async () => {
    await seed();
    const writer = new pg.Client({ connectionString: t.url });
    await writer.connect();
    // A prune that had to wait for a lock would fail after 2 s instead of finishing.
    const impatient = createDb(`${t.url}?options=${encodeURIComponent("-c lock_timeout=2000")}`);
    try {
      await writer.query("BEGIN");
      // As saveAssignments holds an item it updates.
      await writer.query(`SELECT 1 FROM items WHERE identity_key = 'o1' FOR NO KEY UPDATE`);
      const res = await prune(impatient.db, { before: CUTOFF, items: true, batchSize: 2 });
      // Held: item o1, so OLD keeps a copy (and OLDM, merged into it, stays too).
      expect(res).toMatchObject({ fetchesDeleted: 9, itemsDeleted: 6, storiesDeleted: 1 });
      expect(await keys(`SELECT key AS k FROM stories WHERE key LIKE 'OLD%' ORDER BY 1`)).toEqual(["OLD", "OLDM"]);
      expect(await wrongAggregates()).toEqual([]);
      await writer.query("COMMIT");
      const next = await prune(impatient.db, { before: CUTOFF, items: true, batchSize: 2 });
      expect(next).toMatchObject({ fetchesDeleted: 0, itemsDeleted: 1, storiesDeleted: 2 });
      expect(await keys(`SELECT key AS k FROM stories WHERE key LIKE 'OLD%'`)).toEqual([]);
    } finally {
      await writer.query("ROLLBACK").catch(() => {});
      await writer.end();
      await impatient.close();
    }
  });

  it("can lock and write any row between two batches: no lock outlives its batch", async () => {
    const { a, b } = await seed();
    const other = new pg.Client({ connectionString: t.url });
    await other.connect();
    const seen: PruneProgress["phase"][] = [];
    try {
      await prune(t.db, {
        before: CUTOFF, items: true, batchSize: 1,
        onProgress: async (p) => {
          seen.push(p.phase);
          // NOWAIT fails at once on a row another transaction has locked.
          await other.query("BEGIN");
          await other.query(`SELECT 1 FROM fetches WHERE feed_id = ANY($1::bigint[]) FOR UPDATE NOWAIT`, [[a, b]]);
          await other.query(`SELECT 1 FROM items FOR UPDATE NOWAIT`);
          await other.query(`SELECT 1 FROM stories FOR UPDATE NOWAIT`);
          await other.query(`SELECT 1 FROM feeds FOR UPDATE NOWAIT`);
          await other.query("COMMIT");
          // And the pipeline's own writes go through.
          await fetchAt(a, 30 + seen.length, 10);
          await saveAssignments(t.db, [item({ feedId: b, identityKey: `w${seen.length}`, storyKey: "NEW", seenAt: recent(5) })]);
        },
      });
    } finally {
      await other.query("ROLLBACK").catch(() => {});
      await other.end();
    }
    expect(new Set(seen)).toEqual(new Set(["fetches", "items", "stories"]));
    expect(await wrongAggregates()).toEqual([]);
  });
});

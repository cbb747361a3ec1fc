/**
 * The analysts' side of the database: the analytics views keep their columns,
 * the newsfeed_analyst role can read them and write nothing anywhere, and every
 * query of docs/sql runs as that role on a seeded database with the expected result.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addFeed, recordFetch, REFRESH_LOCK, refreshRollups, ROLLUPS, saveAssignments, type AssignedItem } from "@newsfeed/store";
import { createTestDatabase, TEST_ADMIN_URL, type TestDatabase } from "@newsfeed/store/testing";

const SQL_DIR = new URL("../../../docs/sql/", import.meta.url);
const HOUR = 3_600_000;
const login = `nf_analyst_test_${randomBytes(4).toString("hex")}`;
let t: TestDatabase;
let analyst: pg.Client;
const ids: Record<string, number> = {};
const storyId = async (key: string) => Number((await t.pool.query("SELECT id FROM stories WHERE key = $1", [key])).rows[0].id);

const now = Date.now();
const at = (hoursAgo: number) => new Date(now - hoursAgo * HOUR);

function copy(feed: string, key: string, story: string, hoursAgo: number, title: string): AssignedItem {
  return {
    feedId: ids[feed]!, identityKey: key, guid: key, url: `https://${feed}.example/${key}`, canonicalUrl: null, title,
    text: `${title}. The body of ${key}.`, publishedAt: at(hoursAgo), seenAt: at(hoursAgo - 0.1), contentHash: key,
    simhash: 0n, storyKey: story, distance: story === key ? 0 : 3, similarity: story === key ? 1 : 0.9,
  };
}

beforeAll(async () => {
  t = await createTestDatabase();
  for (const [name, title] of [["wire", "Wire Service"], ["planet", "Daily Planet"], ["post", "Evening Post"], ["broken", "Broken Feed"], ["gone", "Gone Feed"]]) {
    ids[name!] = (await addFeed(t.db, { url: `https://${name}.example/rss`, title })).feed.id;
  }
  // Port strike: three outlets, 1 h and 2 h after the wire. Wildfire: two outlets. An old story.
  await saveAssignments(t.db, [
    copy("wire", "strike-w", "strike-w", 5, "Port strike"),
    copy("planet", "strike-p", "strike-w", 4, "Dockers walk out"),
    copy("post", "strike-e", "strike-w", 3, "Strike at the port"),
    copy("wire", "fire-w", "fire-w", 2, "Wildfire"),
    copy("planet", "fire-p", "fire-w", 1.5, "Hills ablaze"),
    copy("wire", "old-w", "old-w", 72, "Old news"),
    copy("wire", "half-a", "half-a", 10, "Budget, part one"),
    copy("planet", "half-b", "half-b", 9, "Budget, part two"),
  ]);
  // A copy that matched both budget halves: they merge.
  await saveAssignments(t.db, [copy("post", "budget-e", "half-a", 8, "The whole budget")], [
    { from: "half-b", into: "half-a", feedId: ids.post!, identityKey: "budget-e" },
  ]);
  expect(await refreshRollups(t.pool)).toMatchObject({ refreshed: true });
  for (let i = 0; i < 3; i++) {
    await recordFetch(t.db, { feedId: ids.broken!, startedAt: at(3 - i), durationMs: 5, status: 500, outcome: "error", errorClass: "http_status", error: "HTTP 500", bytes: 0, itemsFound: 0 },
      { nextCheckAt: at(-1), error: { class: "http_status", message: "HTTP 500" } });
  }
  await recordFetch(t.db, { feedId: ids.gone!, startedAt: at(1), durationMs: 5, status: 410, outcome: "error", errorClass: "gone", error: "410 Gone: polling stopped", bytes: 0, itemsFound: 0 },
    { nextCheckAt: at(-1), error: { class: "gone", message: "410 Gone: polling stopped" }, gone: true });

  const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE ROLE ${login} LOGIN IN ROLE newsfeed_analyst`);
  await admin.end();
  analyst = new pg.Client({ connectionString: t.url.replace("postgres@", `${login}@`) });
  await analyst.connect();
});

afterAll(async () => {
  await analyst?.end();
  await t?.drop();
  const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${login}`);
  await admin.end();
});

describe("analytics views keep their columns", () => {
  it.each([
    { view: "stories", columns: ["story_id", "title", "url", "first_published_at", "first_seen_at", "last_seen_at", "copies", "outlets", "canonical_item_id"] },
    { view: "story_items", columns: ["story_id", "item_id", "feed_id", "outlet", "title", "url", "published_at", "first_seen_at", "copy_at", "delay_seconds", "is_canonical", "similarity", "distance"] },
    { view: "story_merges", columns: ["from_story_id", "from_title", "into_story_id", "into_title", "item_id", "merged_at"] },
    { view: "feed_health", columns: ["feed_id", "url", "title", "state", "last_checked_at", "last_success_at", "consecutive_errors", "error_class", "last_error", "next_check_at", "items_per_day_estimate", "items_per_day"] },
    { view: "daily_stories", columns: ["day", "stories", "copies", "max_outlets"] },
    { view: "outlet_delay_7d", columns: ["feed_id", "outlet", "copies", "median_delay_seconds", "p90_delay_seconds", "window_start", "window_end"] },
    { view: "feed_duplicates_7d", columns: ["feed_id", "outlet", "items", "shared", "duplicate_rate", "window_start", "window_end"] },
    { view: "outlet_pairs_7d", columns: ["feed_a", "outlet_a", "feed_b", "outlet_b", "shared_stories", "window_start", "window_end"] },
  ])("analytics.$view", async ({ view, columns }) => {
    // pg_attribute, not information_schema.columns: the latter leaves materialized views out.
    const { rows } = await analyst.query(
      `SELECT attname AS column_name FROM pg_attribute
        WHERE attrelid = ('analytics.' || quote_ident($1))::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [view],
    );
    expect(rows.map((r) => r.column_name)).toEqual(columns);
  });
});

describe("refreshRollups", () => {
  it("skips while another process refreshes, then recomputes the window", async () => {
    const windowEnd = async () => (await t.pool.query("SELECT max(window_end) AS at FROM analytics.outlet_pairs_7d")).rows[0].at as Date;
    const before = await windowEnd();
    const other = await t.pool.connect();
    try {
      await other.query("SELECT pg_advisory_lock($1)", [REFRESH_LOCK]);
      expect(await refreshRollups(t.pool)).toEqual({ refreshed: false, ms: {} });
      expect(await windowEnd()).toEqual(before);
    } finally {
      await other.query("SELECT pg_advisory_unlock($1)", [REFRESH_LOCK]);
      other.release();
    }
    const r = await refreshRollups(t.pool);
    expect(r.refreshed).toBe(true);
    expect(Object.keys(r.ms)).toEqual([...ROLLUPS]);
    expect((await windowEnd()).getTime()).toBeGreaterThan(before.getTime());
  });
});

describe("newsfeed_analyst reads the analytics views and writes nothing", () => {
  it("reads every view", async () => {
    for (const v of ["stories", "story_items", "story_merges", "feed_health", "daily_stories", ...ROLLUPS.map((r) => r.slice("analytics.".length))]) {
      await expect(analyst.query(`SELECT * FROM analytics.${v} LIMIT 1`)).resolves.toBeDefined();
    }
  });

  it.each([
    "SELECT * FROM public.items LIMIT 1",
    "INSERT INTO public.feeds (url) VALUES ('https://x.example/rss')",
    "UPDATE public.stories SET title = 'x'",
    "DELETE FROM public.items",
    "INSERT INTO analytics.stories (story_id, title) VALUES (1, 'x')",
    "UPDATE analytics.stories SET title = 'x'",
    "DELETE FROM analytics.story_items",
    "CREATE TABLE public.t (x int)",
    "CREATE TABLE analytics.t (x int)",
    "CREATE VIEW analytics.v AS SELECT 1",
    "CREATE TEMP TABLE t (x int)",
    "CREATE SCHEMA mine",
    "DROP VIEW analytics.stories",
    "REFRESH MATERIALIZED VIEW analytics.outlet_pairs_7d",
    "DELETE FROM analytics.outlet_delay_7d",
    "ALTER TABLE public.items ADD COLUMN x int",
    "TRUNCATE public.fetches",
    "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
  ])("refuses: %s", async (sql) => {
    // Views over joins are not updatable at all; the rest is refused for want of privileges.
    await expect(analyst.query(sql)).rejects.toThrow(/permission denied|must be owner|cannot (insert into|update|delete from) view/);
  });
});

describe("docs/sql queries, run as newsfeed_analyst", () => {
  // The reports, and under any-window/ the 7-day ones over the views instead of their rollups:
  // both give the same result (one check each pair).
  const files = readdirSync(SQL_DIR, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".sql")).sort();
  const run = async (file: string) => (await analyst.query(readFileSync(new URL(file, SQL_DIR), "utf8"))).rows;

  it("has at least 8 queries, each with a result checked below", () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
    expect(files.filter((f) => !(f in checks))).toEqual([]);
  });

  const checks: Record<string, (file?: string) => Promise<void>> = {
    "top_stories_by_outlets.sql": async () => {
      const rows = await run("top_stories_by_outlets.sql");
      expect(rows.map((r) => [r.title, r.outlets, r.copies])).toEqual([
        // The merged budget story is titled by its earliest copy, part one.
        ["Budget, part one", 3, 3], ["Port strike", 3, 3], ["Wildfire", 2, 2],
      ]);
    },
    "outlet_republish_delay.sql": async (file = "outlet_republish_delay.sql") => {
      const rows = await run(file);
      const byOutlet = Object.fromEntries(rows.map((r) => [r.outlet, Number(r.median_delay_min)]));
      // Planet: strike +60 min, fire +30, budget part two +60 → median 60. Post: strike +120, the
      // whole budget +120 (after part one, the earliest copy). The wire's copies are all first copies.
      expect(byOutlet).toEqual({ "Daily Planet": 60, "Evening Post": 120 });
    },
    "duplicate_rate_per_feed.sql": async (file = "duplicate_rate_per_feed.sql") => {
      const rows = await run(file);
      const rate = Object.fromEntries(rows.map((r) => [r.outlet, [Number(r.items), Number(r.shared)]]));
      // The wire's old story is 72 h old (inside 7 days) and carried by it alone.
      expect(rate).toEqual({ "Wire Service": [4, 3], "Daily Planet": [3, 3], "Evening Post": [2, 2] });
    },
    "story_timeline.sql": async () => {
      const rows = await run("story_timeline.sql");
      expect(rows.map((r) => [r.outlet, Number(r.delay_min), r.is_canonical])).toEqual([
        ["Wire Service", 0, true], ["Daily Planet", 60, false], ["Evening Post", 120, false],
      ]);
      // The budget story and the port strike tie on outlets and copies: the smaller id wins.
      expect(Number(rows[0].story_id)).toBe(Math.min(await storyId("strike-w"), await storyId("half-a")));
    },
    "broken_feeds.sql": async () => {
      const rows = await run("broken_feeds.sql");
      expect(rows.map((r) => [r.url, r.state, r.consecutive_errors, r.error_class])).toEqual([
        ["https://gone.example/rss", "gone", 1, "gone"],
        ["https://broken.example/rss", "active", 3, "http_status"],
      ]);
    },
    "items_per_hour.sql": async () => {
      const rows = await run("items_per_hour.sql");
      expect(rows.reduce((n, r) => n + Number(r.items), 0)).toBe(8); // all but the 72-hour-old item
      const times = rows.map((r) => (r.hour as Date).getTime());
      expect(times).toEqual([...times].sort((a, b) => a - b));
    },
    "outlets_same_wire.sql": async (file = "outlets_same_wire.sql") => {
      const rows = await run(file);
      expect(rows.map((r) => [r.outlet_a, r.outlet_b, Number(r.shared_stories)])).toEqual([
        ["Wire Service", "Daily Planet", 3], ["Wire Service", "Evening Post", 2], ["Daily Planet", "Evening Post", 2],
      ]);
    },
    "merged_stories.sql": async () => {
      const rows = await run("merged_stories.sql");
      expect(rows.map((r) => [r.from_title, r.into_title, r.outlets_now])).toEqual([["Budget, part two", "Budget, part one", 3]]);
      expect(Number(rows[0].from_story_id)).toBe(await storyId("half-b"));
    },
    "daily_stories.sql": async () => {
      const rows = await run("daily_stories.sql");
      expect(rows.reduce((n, r) => n + Number(r.stories), 0)).toBe(4);
      expect(rows.reduce((n, r) => n + Number(r.copies), 0)).toBe(9);
    },
  };

  for (const name of ["outlet_republish_delay.sql", "duplicate_rate_per_feed.sql", "outlets_same_wire.sql"]) {
    checks[`any-window/${name}`] = () => checks[name]!(`any-window/${name}`);
  }

  it.each(Object.keys(checks))("%s", async (file) => {
    await checks[file]!();
  });
});

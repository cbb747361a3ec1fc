/**
 * `replayItems` on real Postgres and Redis: a plain replay (re-delivery) and a
 * recluster with stories reaching outside the window, each run twice and dry.
 */
import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { dedupeBatch, FingerprintIndex, prepareItem, rebuildIndex, replayItems, type DedupeDeps } from "@newsfeed/dedupe";
import type { TestDatabase } from "@newsfeed/store/testing";
import { addFeeds, partition, saveUnder, story } from "./replay-fixtures.ts";
import { scratch, type Scratch } from "./scratch.ts";

const HOUR = 3_600_000;
const WINDOW = 72 * HOUR;

interface Setup extends Scratch {
  deps: DedupeDeps & { scratch: FingerprintIndex };
  feeds: number[];
}

async function setup(): Promise<Setup> {
  const { t, redis, prefix } = await scratch("nf_replay");
  const opts = { windowMs: WINDOW, minContainment: 0.35, maxNumberMismatches: 2, mergeContainment: 0.5 };
  return {
    t, redis, prefix,
    deps: {
      db: t.db,
      index: new FingerprintIndex(redis, { prefix: `${prefix}:idx:`, ...opts }),
      scratch: new FingerprintIndex(redis, { prefix: `${prefix}:scratch:idx:`, ...opts }),
      settings: { shingleSize: 5, minWords: 12, chromeMinItems: 3 },
    },
    feeds: await addFeeds(t.db, 4),
  };
}

/** Every key under the prefix with its serialized value. */
async function redisState(redis: Redis, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    for (const k of keys) out[k] = (await redis.dumpBuffer(k))?.toString("hex") ?? "";
  } while (cursor !== "0");
  return out;
}

/** Every row of items, stories and story_items with its xmin: equal snapshots mean no row was written. */
async function snapshot(t: TestDatabase): Promise<string> {
  const parts: string[] = [];
  for (const table of ["items", "stories", "story_items", "story_merges"]) {
    const { rows } = await t.pool.query(`SELECT xmin::text AS xmin, * FROM ${table} ORDER BY 2, 3`);
    parts.push(JSON.stringify(rows));
  }
  return parts.join("\n");
}

const ago = (h: number) => new Date(Date.now() - h * HOUR);
const idOf = async (t: TestDatabase, identityKey: string) =>
  Number((await t.pool.query(`SELECT id FROM items WHERE identity_key = $1`, [identityKey])).rows[0].id);
const storyOf = async (t: TestDatabase, identityKey: string) =>
  Number((await t.pool.query(
    `SELECT si.story_id FROM story_items si JOIN items i ON i.id = si.item_id WHERE i.identity_key = $1`, [identityKey],
  )).rows[0].story_id);

describe("replay items", () => {
  it("replays as a re-delivery: text cleaned again, Postgres following the index, no story created; twice changes nothing", async () => {
    const s = await setup();
    const [f1, f2, f3] = s.feeds;
    const items = [
      ...story("A", 1, ago(10), [f1!, f2!, f3!]), ...story("B", 2, ago(9), [f1!, f2!, f3!]), ...story("C", 3, ago(8), [f1!, f2!, f3!]),
    ];
    await dedupeBatch(s.deps, items);
    const right = [["A-1", "A-2", "A-3"], ["B-1", "B-2", "B-3"], ["C-1", "C-2", "C-3"], ["D-1"]];
    // An item stored without going through this index (it has none of its fingerprints).
    await saveUnder(s.t.db, story("D", 4, ago(7), [f1!, f2!, f3!]).slice(0, 1), s.deps.settings, () => "D-solo");
    expect(await partition(s.t.pool)).toEqual(right);
    // Postgres lost track of a copy the index holds in B (moved to A), and a stored text kept a byline.
    await s.t.pool.query(`UPDATE story_items SET story_id = $1 WHERE item_id = $2`, [await storyOf(s.t, "A-1"), await idOf(s.t, "B-2")]);
    await s.t.pool.query(`UPDATE items SET text = text || E'\\nBy Jane Doe' WHERE identity_key = 'C-1'`);
    const stories = (await s.t.pool.query(`SELECT count(*)::int AS n FROM stories`)).rows[0].n;

    const opts = { since: ago(24), windowMs: WINDOW, pageSize: 4 };
    const rows0 = await snapshot(s.t);
    const redis0 = await redisState(s.redis, s.prefix);
    const dry = await replayItems(s.deps, { ...opts, dryRun: true });
    expect(dry).toMatchObject({ read: 10, new: 0, updated: 2, unchanged: 8, failed: 0, dryRun: true, moved: 1, rewritten: 1 });
    expect(await snapshot(s.t)).toBe(rows0);
    expect(await redisState(s.redis, s.prefix)).toEqual(redis0);

    const first = await replayItems(s.deps, opts);
    expect(first).toMatchObject({ read: 10, new: 0, updated: 2, unchanged: 8, failed: 0, dryRun: false, moved: 1, rewritten: 1, errors: [] });
    expect(await partition(s.t.pool)).toEqual(right);
    expect((await s.t.pool.query(`SELECT text FROM items WHERE identity_key = 'C-1'`)).rows[0].text).not.toMatch(/Jane Doe/);
    expect((await s.t.pool.query(`SELECT count(*)::int AS n FROM stories`)).rows[0].n).toBe(stories);
    const agg = await s.t.pool.query(`SELECT copies, outlets FROM stories WHERE copies > 0 ORDER BY copies DESC`);
    expect(agg.rows.map((r) => [r.copies, r.outlets])).toEqual([[3, 3], [3, 3], [3, 3], [1, 1]]);

    const rows1 = await snapshot(s.t);
    const redis1 = await redisState(s.redis, s.prefix);
    const second = await replayItems(s.deps, opts);
    expect(second).toMatchObject({ read: 10, new: 0, updated: 0, unchanged: 10, failed: 0, indexUpdated: 0 });
    expect(await snapshot(s.t)).toBe(rows1);
    expect(await redisState(s.redis, s.prefix)).toEqual(redis1);
  });

  it("reclusters the window: its items join a story outside it, a wrong story splits; twice changes nothing", async () => {
    const s = await setup();
    const [f1, f2, f3, f4] = s.feeds;
    const a = story("A", 11, ago(10), [f1!, f2!, f3!]);
    a[2]!.publishedAt = a[2]!.seenAt = ago(40).toISOString(); // outside the window, within the dedupe window of the others
    const b = story("B", 12, ago(8), [f1!, f2!, f3!]);
    const c = story("C", 13, ago(6), [f1!, f2!, f3!]);
    const wrong = (k: string) => (k === "A-3" ? "A-OUT" : k.startsWith("C") ? "C" : "AB");
    await saveUnder(s.t.db, [...a, ...b, ...c], s.deps.settings, wrong);
    await rebuildIndex(s.deps, { since: new Date(0) }); // the live index as it would be: same stories
    const outStory = await storyOf(s.t, "A-3");
    const opts = { since: ago(30), windowMs: WINDOW, recluster: true, pageSize: 4 };
    const stories = { before: 2, after: 3, stayed: 1, split: 1, merged: 1, created: 0, emptied: 0 };

    const rows0 = await snapshot(s.t);
    const redis0 = await redisState(s.redis, s.prefix);
    const dry = await replayItems(s.deps, { ...opts, dryRun: true });
    expect(dry).toMatchObject({ read: 8, new: 0, updated: 2, unchanged: 6, failed: 0, moved: 2, dryRun: true, stories });
    expect(await snapshot(s.t)).toBe(rows0);
    expect(await s.deps.scratch.clear()).toBeGreaterThan(0); // the caller deletes the scratch index
    expect(await redisState(s.redis, s.prefix)).toEqual(redis0);

    const first = await replayItems(s.deps, opts);
    await s.deps.scratch.clear();
    expect(first).toMatchObject({ read: 8, new: 0, updated: 2, unchanged: 6, failed: 0, moved: 2, stories, errors: [] });
    expect(first.indexUpdated).toBe(2);
    expect(await partition(s.t.pool)).toEqual([["A-1", "A-2", "A-3"], ["B-1", "B-2", "B-3"], ["C-1", "C-2", "C-3"]]);
    expect(await storyOf(s.t, "A-1")).toBe(outStory);
    const agg = await s.t.pool.query(`SELECT key, copies, outlets FROM stories ORDER BY key`);
    expect(agg.rows).toEqual([
      { key: "A-OUT", copies: 3, outlets: 3 }, { key: "AB", copies: 3, outlets: 3 }, { key: "C", copies: 3, outlets: 3 },
    ]);

    // The live index follows: a new copy of A or B joins the story Postgres now has for them.
    const late = [{ ...a[0]!, feedId: f4!, identityKey: "A-4" }, { ...b[1]!, feedId: f4!, identityKey: "B-4" }];
    await dedupeBatch(s.deps, late);
    expect(await storyOf(s.t, "A-4")).toBe(outStory);
    expect(await storyOf(s.t, "B-4")).toBe(await storyOf(s.t, "B-1"));

    const rows1 = await snapshot(s.t);
    const redis1 = await redisState(s.redis, s.prefix);
    const second = await replayItems(s.deps, opts);
    await s.deps.scratch.clear();
    expect(second).toMatchObject({
      read: 10, new: 0, updated: 0, unchanged: 10, failed: 0, indexUpdated: 0,
      stories: { before: 3, after: 3, stayed: 3, split: 0, merged: 0, created: 0, emptied: 0 },
    });
    expect(await snapshot(s.t)).toBe(rows1);
    expect(await redisState(s.redis, s.prefix)).toEqual(redis1);
  });
});

describe("index maintenance for replays", () => {
  it("looks items up without side effects, refreshes only the entries it holds, follows and drops aliases", async () => {
    const s = await setup();
    const index = s.deps.index;
    const [x, y] = [story("X", 31, ago(5), [1, 2, 3]), story("Y", 32, ago(5), [1, 2, 3])];
    const doc = (it: (typeof x)[number]) => prepareItem(it, s.deps.settings);
    const entry = (ref: string, it: (typeof x)[number]) => {
      const p = doc(it);
      return { ref, ts: p.ts, fp: p.doc.fp, sketch: p.doc.sketch, shingles: p.doc.shingles, numbers: p.doc.numbers };
    };
    const [held] = await index.assign([entry("held", x[0]!)]);
    const before = await redisState(s.redis, s.prefix);
    expect(await index.lookup([entry("held", x[0]!), entry("absent", y[0]!)])).toEqual([
      { storyKey: held!.storyKey, distance: 0, similarity: 1, fp: doc(x[0]!).doc.fp },
      null,
    ]);
    expect(await redisState(s.redis, s.prefix)).toEqual(before);

    // Same fingerprint, same story: nothing written; an entry it does not hold: not added.
    const load = (e: ReturnType<typeof entry>, storyKey: string) => ({ ...e, storyKey, distance: 0, similarity: 1 });
    expect(await index.refresh([load(entry("held", x[0]!), "held"), load(entry("absent", y[0]!), "Z")])).toEqual({
      updated: 0, unchanged: 1, absent: 1,
    });
    expect(await redisState(s.redis, s.prefix)).toEqual(before);
    expect(await index.lookup([entry("absent", y[0]!)])).toEqual([null]);

    // Another text for "held" (in story S2): copies of the new text find it, copies of the old do not.
    expect(await index.refresh([load(entry("held", y[0]!), "S2")])).toMatchObject({ updated: 1 });
    expect((await index.lookup([entry("held", y[0]!)]))[0]).toMatchObject({ storyKey: "S2", fp: doc(y[0]!).doc.fp });
    const [copyOfNew, copyOfOld] = await index.assign([entry("y-copy", y[2]!), entry("x-copy", x[2]!)]);
    expect(copyOfNew!.storyKey).toBe("S2");
    expect(copyOfOld!.storyKey).toBe("x-copy");

    // Aliases: followed by lookup and roots, and dropped on request.
    await s.redis.set(`${s.prefix}:idx:alias:S2`, "S3");
    expect((await index.lookup([entry("held", y[0]!)]))[0]!.storyKey).toBe("S3");
    expect(Object.fromEntries(await index.roots(["S2", "S3", "other"]))).toEqual({ S2: "S3", S3: "S3", other: "other" });
    expect(await index.dropAliases(["S2", "nothing"])).toBe(1);
    expect((await index.lookup([entry("held", y[0]!)]))[0]!.storyKey).toBe("S2");

    expect(await s.deps.scratch.clear()).toBe(0);
    expect(await index.clear()).toBeGreaterThan(0);
    expect(await redisState(s.redis, s.prefix)).toEqual({});
  });
});

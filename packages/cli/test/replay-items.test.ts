/** `newsfeed replay items` as an operator runs it: usage errors, a dry run, a recluster run twice, a plain replay. */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rebuildIndex } from "@newsfeed/dedupe";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import type { Config } from "../src/config.ts";
import { createIndex, dedupeSettings } from "../src/runtime.ts";
import { addFeeds, partition, saveUnder, story } from "../../dedupe/test/replay-fixtures.ts";
import { cliEnv, dropRedisPrefix, expectUsageError, redisState as redisKeys, runCli, snapshotRows, testConfig } from "./helpers.ts";

const HOUR = 3_600_000;

let t: TestDatabase;
let config: Config;
let redis: Redis;
beforeAll(async () => {
  t = await createTestDatabase("nf_cli_replay");
  config = testConfig(t.url);
  redis = new Redis(config.REDIS_URL);
});
afterAll(async () => {
  await dropRedisPrefix(config);
  await redis.quit();
  await t.drop();
});

const newsfeed = (args: string[], env: Record<string, string> = {}) => runCli(args, { ...cliEnv(config), ...env });

/** Every Redis key under the test's prefix with its serialized value. */
const redisState = () => redisKeys(redis, config.NEWSFEED_REDIS_PREFIX);

describe.concurrent("usage", { timeout: 120_000 }, () => {
  it.each([
    { args: ["replay", "items"], msg: /--since is required/ },
    { args: ["replay", "items", "--since", "soon"], msg: /--since must be a duration ago \(72h, 7d\) or an ISO time, got 'soon'/ },
    { args: ["replay", "items", "--since", "2d", "--until", "3d"], msg: /--until 3d is not after --since 2d/ },
    { args: ["replay", "items", "--since", "2d", "--until", "later"], msg: /--until must be a duration ago/ },
    { args: ["replay", "items", "--since", "2d", "--bogus"], msg: /Unknown option '--bogus'/ },
  ])("newsfeed $args exits 2 with one line", async ({ args, msg }) => {
    expectUsageError(await newsfeed(args), msg);
  });

  it("prints help with examples and exits 0", async () => {
    const r = await newsfeed(["replay", "items", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: newsfeed replay items/);
    expect(r.stdout).toMatch(/pnpm newsfeed replay items --since 7d --dry-run/);
    expect(r.stdout).toMatch(/--recluster .*split/);
  });
});

describe("against a database", { timeout: 120_000 }, () => {
  it("reclusters a mis-clustered window: the dry run changes nothing, the run fixes it, the second run changes no row", async () => {
    const feeds = await addFeeds(t.db, 3);
    const ago = (h: number) => new Date(Date.now() - h * HOUR);
    const items = [
      ...story("A", 21, ago(10), feeds), ...story("B", 22, ago(9), feeds), ...story("C", 23, ago(8), feeds), ...story("D", 24, ago(7), feeds),
    ];
    // A and B in one story, C in two, D right.
    const wrong = (k: string) => (k.startsWith("A") || k.startsWith("B") ? "AB" : k === "C-1" ? "C-ONE" : k.startsWith("C") ? "C-REST" : "D");
    const settings = dedupeSettings(config);
    await saveUnder(t.db, items, settings, wrong);
    await rebuildIndex({ db: t.db, index: createIndex(config, redis), settings }, { since: new Date(0) });
    const stories = { before: 4, after: 4, stayed: 1, split: 1, merged: 1, created: 1, emptied: 1 };

    const rows0 = await snapshotRows(t.pool);
    const redis0 = await redisState();
    const dry = await newsfeed(["replay", "items", "--since", "2d", "--recluster", "--dry-run", "--json"]);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      recluster: true, dryRun: true, read: 12, new: 0, updated: 4, unchanged: 8, failed: 0, moved: 4, stories,
    });
    expect(await snapshotRows(t.pool)).toBe(rows0);
    expect(await redisState()).toEqual(redis0); // the live index untouched, the scratch index gone

    const run = await newsfeed(["replay", "items", "--since", "2d", "--recluster"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/read 12; new 0, updated 4, unchanged 8, failed 0/);
    expect(run.stdout).toMatch(/stories: 4 before, 4 after: 1 stayed, 1 split, 1 merged; 1 created, 1 emptied/);
    expect(await partition(t.pool)).toEqual([["A-1", "A-2", "A-3"], ["B-1", "B-2", "B-3"], ["C-1", "C-2", "C-3"], ["D-1", "D-2", "D-3"]]);
    const merged = await t.pool.query(
      `SELECT f.key AS from_key, i.key AS into_key, f.copies FROM story_merges m
         JOIN stories f ON f.id = m.from_story_id JOIN stories i ON i.id = m.into_story_id`,
    );
    expect(merged.rows).toEqual([{ from_key: "C-ONE", into_key: "C-REST", copies: 0 }]);
    const live = await t.pool.query(`SELECT copies, outlets FROM stories WHERE merged_into_id IS NULL ORDER BY key`);
    expect(live.rows).toEqual(Array.from({ length: 4 }, () => ({ copies: 3, outlets: 3 })));
    expect(Object.keys(await redisState()).some((k) => k.includes(":replay-"))).toBe(false);

    const rows1 = await snapshotRows(t.pool);
    const again = await newsfeed(["replay", "items", "--since", "2d", "--recluster", "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      dryRun: false, read: 12, new: 0, updated: 0, unchanged: 12, failed: 0, indexUpdated: 0,
      stories: { before: 4, after: 4, stayed: 4, split: 0, merged: 0, created: 0, emptied: 0 },
    });
    expect(await snapshotRows(t.pool)).toBe(rows1);

    const plain = await newsfeed(["replay", "items", "--since", "2d", "--json"]);
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout)).toMatchObject({ recluster: false, read: 12, new: 0, updated: 0, unchanged: 12, failed: 0 });
    expect(JSON.parse(plain.stdout).stories).toBeUndefined();
    expect(await snapshotRows(t.pool)).toBe(rows1);

    // After a settings change (4-word shingles): every fingerprint would change, no story.
    const shingles = await newsfeed(["replay", "items", "--since", "2d", "--recluster", "--dry-run", "--json"], { DEDUPE_SHINGLE_SIZE: "4" });
    expect(shingles.code).toBe(0);
    expect(JSON.parse(shingles.stdout)).toMatchObject({
      read: 12, updated: 12, moved: 0, rewritten: 12, stories: { stayed: 4, split: 0, merged: 0, created: 0 },
    });
    expect(await snapshotRows(t.pool)).toBe(rows1);
  });
});

/**
 * The dedupe stage on real Redis and Postgres: the partition it produces, alone,
 * with two concurrent workers, and after the Redis index is lost and rebuilt.
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { createDedupeWorker, dedupeBatch, FingerprintIndex, rebuildIndex, type DedupeDeps } from "@newsfeed/dedupe";
import { JOB_NAMES, JOB_OPTIONS, QUEUES, queuePrefix } from "@newsfeed/jobs";
import { addFeed } from "@newsfeed/store";
import type { TestDatabase } from "@newsfeed/store/testing";
import { corpus, partition, type CorpusItem } from "./corpus.ts";
import { dropPrefix, scratch, type Scratch } from "./scratch.ts";

const items = corpus();
const gold = partition(new Map(items.map((it) => [it.identityKey, it.gold])));

interface Setup extends Scratch {
  deps: DedupeDeps;
}

async function setup(): Promise<Setup> {
  const { t, redis, prefix } = await scratch();
  for (let f = 1; f <= 9; f++) await addFeed(t.db, { url: `https://feed${f}.example/rss` });
  const index = new FingerprintIndex(redis, {
    prefix: `${prefix}:idx:`, windowMs: 72 * 3_600_000, minContainment: 0.35, maxNumberMismatches: 2, mergeContainment: 0.5,
  });
  return { t, redis, prefix, deps: { db: t.db, index, settings: { shingleSize: 5, minWords: 12, chromeMinItems: 3 } } };
}

/** The partition Postgres holds: items by the story they belong to now. */
async function stored(t: TestDatabase): Promise<string[][]> {
  const { rows } = await t.pool.query<{ identity_key: string; story_id: string }>(
    `SELECT i.identity_key, si.story_id FROM items i JOIN story_items si ON si.item_id = i.id`,
  );
  return partition(new Map(rows.map((r) => [r.identity_key, r.story_id])));
}

const batches = (xs: CorpusItem[], n: number) =>
  Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));
const payload = (it: CorpusItem) => {
  const { gold: _gold, ...rest } = it;
  return rest;
};

describe("dedupe on the test corpus", () => {
  let alone: string[][];

  it("puts each story's reprints together and keeps templated briefs apart", async () => {
    const s = await setup();
    for (const b of batches(items, 10)) await dedupeBatch(s.deps, b.map(payload));
    alone = await stored(s.t);
    expect(alone).toEqual(gold);
  });

  it("gives the same partition with two workers taking batches concurrently", async () => {
    const s = await setup();
    const queue = new Queue(QUEUES.items, { connection: s.redis, prefix: queuePrefix(s.prefix) });
    const logger = pino({ level: "silent" });
    const workers = [1, 2].map(() =>
      createDedupeWorker({ connection: s.redis, prefix: queuePrefix(s.prefix), concurrency: 2, deps: s.deps, logger }),
    );
    await queue.addBulk(
      batches(items, 4).map((b, i) => ({
        name: JOB_NAMES.items, data: { feedId: b[0]!.feedId, items: b.map(payload) }, opts: { ...JOB_OPTIONS.items, jobId: `b${i}` },
      })),
    );
    await vi.waitFor(
      async () => {
        const c = await queue.getJobCounts("waiting", "active", "delayed", "failed");
        expect(c).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });
        const { rows } = await s.t.pool.query(`SELECT count(*)::int AS n FROM story_items`);
        expect(rows[0].n).toBe(items.length);
      },
      { timeout: 20_000, interval: 100 },
    );
    for (const w of workers) await w.close();
    await queue.close();
    expect(await stored(s.t)).toEqual(alone);
  });

  it("learns a feed's recurring short lines as its chrome and leaves them out", async () => {
    const s = await setup();
    const plain = items.filter((it) => !it.content.includes("<") && it.gold.startsWith("story"));
    const story = (i: number) =>
      `Share this article\n\n${plain[i * 4]!.content}\n\nYou have ${i + 1} free articles remaining this month`;
    const stored = async (i: number) => {
      const { rows } = await s.t.pool.query(`SELECT text FROM items WHERE identity_key = $1`, [`chrome-${i}`]);
      return rows[0].text as string;
    };
    for (let i = 0; i < 5; i++) {
      const base = payload(plain[i * 4]!);
      await dedupeBatch(s.deps, [{ ...base, feedId: 8, identityKey: `chrome-${i}`, content: story(i) }]);
    }
    // Three items carried the lines before the fourth: from then on they are chrome.
    expect(await stored(2)).toContain("Share this article");
    expect(await stored(3)).not.toContain("Share this article");
    expect(await stored(4)).not.toMatch(/free articles remaining/);
  });

  it("continues with the same results after the Redis index is lost and rebuilt", async () => {
    const s = await setup();
    const half = Math.floor(items.length / 2);
    for (const b of batches(items.slice(0, half), 10)) await dedupeBatch(s.deps, b.map(payload));
    await dropPrefix(s.redis, s.prefix);
    const res = await rebuildIndex(s.deps, { since: new Date(0) });
    expect(res).toEqual({ read: half, added: half });
    expect(await rebuildIndex(s.deps, { since: new Date(0) })).toEqual({ read: half, added: 0 });
    for (const b of batches(items.slice(half), 10)) await dedupeBatch(s.deps, b.map(payload));
    expect(await stored(s.t)).toEqual(alone);
  });
});

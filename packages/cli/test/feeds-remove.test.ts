/** `newsfeed feeds remove` as an operator runs it, and what a worker does with a job of a removed feed. */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { JOB_NAMES } from "@newsfeed/jobs";
import { createIngestWorker } from "@newsfeed/ingest";
import { addFeed, getFeed, recordFetch, saveAssignments, tableCounts, type AssignedItem } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import { createLogger } from "../src/logger.ts";
import { createRuntime } from "../src/runtime.ts";
import { dropRedisPrefix, runCli, testConfig } from "./helpers.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase("nf_cli_remove");
});
afterAll(async () => {
  await t.drop();
});

const newsfeed = (args: string[]) => runCli(args, { DATABASE_URL: t.url });

const recent = new Date(Date.now() - 3_600_000);
const item = (over: Partial<AssignedItem> & Pick<AssignedItem, "feedId" | "identityKey" | "storyKey">): AssignedItem => ({
  guid: null, url: null, canonicalUrl: null, title: `title ${over.identityKey}`, text: "some text",
  publishedAt: null, seenAt: recent, contentHash: "h1", simhash: 1n, distance: 0, similarity: 1,
  ...over,
});

describe("feeds remove", { timeout: 120_000 }, () => {
  it("refuses without --yes or an unknown feed, counts with --dry-run, then removes and recomputes", async () => {
    const a = (await addFeed(t.db, { url: "https://remove-a.example/rss" })).feed.id;
    const b = (await addFeed(t.db, { url: "https://remove-b.example/rss" })).feed.id;
    await saveAssignments(t.db, [
      item({ feedId: a, identityKey: "a1", storyKey: "SHARED", publishedAt: new Date(recent.getTime() - 60_000) }),
      item({ feedId: b, identityKey: "b1", storyKey: "SHARED", publishedAt: recent }),
      item({ feedId: a, identityKey: "a2", storyKey: "ONLY-A" }),
    ]);
    await recordFetch(
      t.db,
      { feedId: a, startedAt: recent, durationMs: 1, status: 200, outcome: "ok", bytes: 10, itemsFound: 2 },
      { nextCheckAt: new Date(), error: null },
    );
    const counts = await tableCounts(t.db);

    const refused = await newsfeed(["feeds", "remove", String(a)]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toMatch(/add --yes \(or see what would go with --dry-run\)/);
    const unknown = await newsfeed(["feeds", "remove", "987654", "--yes"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toBe("newsfeed: no feed '987654' (give a feed id or URL; see `pnpm newsfeed feeds list`)");
    const dry = await newsfeed(["feeds", "remove", "https://remove-a.example/rss", "--dry-run", "--json"]);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({
      dryRun: true, feedId: a, url: "https://remove-a.example/rss", items: 2, fetches: 1, storiesRecomputed: 1, storiesDeleted: 1, batches: 0,
    });
    expect(await tableCounts(t.db)).toEqual(counts);

    const removed = await newsfeed(["feeds", "remove", String(a), "--yes"]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(new RegExp(`^removed feed ${a}: https://remove-a\\.example/rss$`, "m"));
    expect(removed.stdout).toMatch(/items deleted\s+2$/m);
    expect(removed.stdout).toMatch(/fetches deleted\s+1$/m);
    expect(removed.stdout).toMatch(/stories recomputed\s+1$/m);
    expect(removed.stdout).toMatch(/stories deleted \(left without copies\)\s+1$/m);
    expect(await getFeed(t.db, a)).toBeUndefined();
    expect(await tableCounts(t.db)).toEqual({
      feeds: counts.feeds - 1, fetches: counts.fetches - 1, items: counts.items - 2, stories: counts.stories - 1, storyItems: counts.storyItems - 2,
    });
    const stories = JSON.parse((await newsfeed(["stories", "--since", "1d", "--json"])).stdout) as { title: string; copies: number; outlets: number }[];
    expect(stories).toEqual([expect.objectContaining({ title: "title b1", copies: 1, outlets: 1 })]);

    // Gone now: the same answer as for any unknown feed.
    const again = await newsfeed(["feeds", "remove", String(a), "--yes", "--json"]);
    expect(again.code).toBe(2);
    expect(again.stdout).toBe("");
    expect(again.stderr).toMatch(new RegExp(`no feed '${a}'`));
  });

  it("leaves fetch jobs still queued for the removed feed to be skipped by the worker, not failed", async () => {
    const id = (await addFeed(t.db, { url: "https://remove-queued.example/rss" })).feed.id;
    const config = testConfig(t.url);
    const rt = createRuntime(config, createLogger("silent", { pretty: false }));
    try {
      const job = await rt.fetchQueue.add(JOB_NAMES.fetch, { feedId: id });
      expect((await newsfeed(["feeds", "remove", String(id), "--yes", "--json"])).code).toBe(0);
      const worker = createIngestWorker({ connection: rt.redis, prefix: rt.queuePrefix, concurrency: 1, deps: rt.pollDeps, logger: rt.logger });
      rt.onClose(() => worker.close());
      await vi.waitFor(async () => expect(await rt.fetchQueue.getJobState(job.id!)).toBe("completed"), { timeout: 20_000, interval: 100 });
      const done = await rt.fetchQueue.getJob(job.id!);
      expect(done!.returnvalue).toMatchObject({ feedId: id, outcome: "skipped" });
      expect(await rt.fetchQueue.getFailedCount()).toBe(0);
    } finally {
      await rt.close();
      await dropRedisPrefix(config);
    }
  });
});

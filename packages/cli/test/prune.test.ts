/** `newsfeed prune` as an operator runs it: usage errors, a dry run, a run and its summary. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addFeed, recordFetch, saveAssignments } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import { expectUsageError, runCli } from "./helpers.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase("nf_cli_prune");
});
afterAll(async () => {
  await t.drop();
});

const newsfeed = (args: string[]) => runCli(args, { DATABASE_URL: t.url });

describe.concurrent("usage errors", { timeout: 120_000 }, () => {
  it.each([
    { args: ["prune"], msg: /--older-than is required/ },
    { args: ["prune", "--older-than", "soon"], msg: /--older-than must be a duration such as 90d, 12h or 2w, got 'soon'/ },
    { args: ["prune", "--older-than", "0d"], msg: /--older-than must be longer than 0/ },
    { args: ["prune", "--older-than", "30d", "--bodies-older-than", "60d"], msg: /--bodies-older-than 60d is longer than --older-than 30d/ },
    { args: ["prune", "--older-than", "30d", "--batch", "0"], msg: /--batch must be a whole number ≥ 1/ },
    { args: ["prune", "--older-than", "30d", "--batch", "1000000"], msg: /--batch must be at most 50000/ },
    { args: ["prune", "--older-than"], msg: /argument missing/ },
  ])("newsfeed $args exits 2 with one line", async ({ args, msg }) => {
    expectUsageError(await newsfeed(args), msg);
  });

  it("prints help with examples and exits 0", async () => {
    const r = await newsfeed(["prune", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: newsfeed prune/);
    expect(r.stdout).toMatch(/pnpm newsfeed prune --older-than 90d --dry-run/);
  });
});

describe("against a database", { timeout: 120_000 }, () => {
  it("counts in a dry run, prunes with a summary, and finds nothing the second time", async () => {
    const DAY = 86_400_000;
    const ago = (days: number) => new Date(Date.now() - days * DAY);
    const f = (await addFeed(t.db, { url: "https://prune-cli.example/rss" })).feed.id;
    for (const [days, body] of [[60, 2048], [45, 0], [40, 1024], [1, 512]] as const) {
      await recordFetch(
        t.db,
        {
          feedId: f, startedAt: ago(days), durationMs: 1, status: 200, outcome: "ok", bytes: 10, itemsFound: 0,
          bodyGzip: body ? Buffer.alloc(body) : null,
        },
        { nextCheckAt: new Date(), error: null },
      );
    }
    const item = { guid: null, url: null, canonicalUrl: null, text: "t", publishedAt: null, contentHash: "h", simhash: 1n, distance: 0, similarity: 1 };
    await saveAssignments(t.db, [
      { ...item, feedId: f, identityKey: "old", title: "Old", storyKey: "OLD", seenAt: ago(50) },
      { ...item, feedId: f, identityKey: "new", title: "New", storyKey: "NEW", seenAt: ago(1) },
    ]);

    const dry = await newsfeed(["prune", "--older-than", "30d", "--items", "--dry-run", "--json"]);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dryRun: true, olderThan: "30d", items: true, fetchesDeleted: 3, bodiesRemoved: 2, bodyBytes: 3072, itemsDeleted: 1,
      storiesDeleted: 1, storiesUpdated: 0, batches: 0,
    });
    const counts = async () =>
      (await t.pool.query(`SELECT (SELECT count(*) FROM fetches)::int AS f, (SELECT count(*) FROM items)::int AS i`)).rows[0];
    expect(await counts()).toEqual({ f: 4, i: 2 });

    // Without --items, items and stories stay.
    const run = await newsfeed(["prune", "--older-than", "30d", "--batch", "1"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^pruned what was older than \d{4}-\d\d-\d\dT[\d:.]+Z \(30d\)\n/);
    expect(run.stdout).toMatch(/fetches deleted\s+3\n/);
    expect(run.stdout).toMatch(/archived bodies removed\s+2 \(0\.0 MB\)\n/);
    expect(run.stdout).toMatch(/items deleted\s+0 \(kept: add --items to prune them\)\n/);
    expect(run.stdout).toMatch(/elapsed\s+[\d.]+ s \(3 batches of up to 1 rows\)/);
    expect(await counts()).toEqual({ f: 1, i: 2 });

    const items = JSON.parse((await newsfeed(["prune", "--older-than", "30d", "--items", "--json"])).stdout);
    expect(items).toMatchObject({ fetchesDeleted: 0, itemsDeleted: 1, storiesDeleted: 1 });
    expect(await counts()).toEqual({ f: 1, i: 1 });
    const again = JSON.parse((await newsfeed(["prune", "--older-than", "30d", "--items", "--json"])).stdout);
    expect(again).toMatchObject({ fetchesDeleted: 0, bodiesRemoved: 0, itemsDeleted: 0, storiesDeleted: 0, batches: 0 });
  });
});

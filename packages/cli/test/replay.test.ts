/**
 * `newsfeed replay fetches | file | failed` as an operator runs them, on real
 * Postgres and Redis: a database and a Redis prefix of its own per test.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Queue, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDedupeWorker } from "@newsfeed/dedupe";
import { normalizeItems, pollFeed } from "@newsfeed/ingest";
import { JOB_NAMES, QUEUES, queuePrefix } from "@newsfeed/jobs";
import { addFeed, type Feed } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import type { Config } from "../src/config.ts";
import { createLogger } from "../src/logger.ts";
import type { ReplayReport } from "../src/replay/sink.ts";
import { createIndex, createRuntime, dedupeSettings } from "../src/runtime.ts";
import { startSampleServer } from "../src/sample/server.ts";
import { cliEnv, dropRedisPrefix, runCli, snapshotRows, testConfig } from "./helpers.ts";

/** The --json summary: the report, and what each replay adds to it. */
interface Summary extends ReplayReport {
  [k: string]: unknown;
}

let t: TestDatabase;
let config: Config;
let redis: Redis;

beforeEach(async () => {
  t = await createTestDatabase("nf_replay");
  config = testConfig(t.url);
  redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
});

afterEach(async () => {
  await redis?.quit();
  if (config) await dropRedisPrefix(config);
  await t?.drop();
});

const newsfeed = (args: string[]) => runCli(args, { ...cliEnv(config), FETCH_ALLOW_PRIVATE: "127.0.0.1" });

/** Runs a replay with --json; returns the exit code, the summary and stderr. */
async function replay(args: string[]): Promise<{ code: number; s: Summary; stderr: string }> {
  const r = await newsfeed(["replay", ...args, "--json"]);
  let s: Summary;
  try {
    s = JSON.parse(r.stdout) as Summary;
  } catch {
    throw new Error(`no JSON from replay ${args.join(" ")} (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, s, stderr: r.stderr };
}

const count = async (table: string) => (await t.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
const indexKeys = async () => (await redis.keys(`${config.NEWSFEED_REDIS_PREFIX}:idx:*`)).length;

const WORDS = (
  "harbor council budget river storm rail school bridge museum vote mayor court nurse strike tunnel farm " +
  "energy price wheat port flood minister clinic library festival airport tram forest coast bank tax plan"
).split(" ");
/** A body of 40 words that differs from item to item. */
const body = (seed: number) => Array.from({ length: 40 }, (_, i) => WORDS[(seed * 7 + i * (seed % 5 + 3)) % WORDS.length]).join(" ");

function rss(items: { guid: string; title: string; text: string }[]): string {
  return `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Replay test</title>${items
    .map((i) => `<item><guid>${i.guid}</guid><title>${i.title}</title><link>/n/${i.guid}</link><description>${i.text}</description></item>`)
    .join("")}</channel></rss>`;
}

async function archive(feedId: number, startedAt: Date, text: string): Promise<number> {
  const { rows } = await t.pool.query(
    `INSERT INTO fetches (feed_id, started_at, duration_ms, status, outcome, bytes, content_type, body_gzip, items_found)
     VALUES ($1, $2, 5, 200, 'ok', $3, 'application/rss+xml', $4, 0) RETURNING id`,
    [feedId, startedAt, text.length, gzipSync(text)],
  );
  return Number(rows[0].id);
}

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);

describe("replay fetches", { timeout: 120_000 }, () => {
  it("dedupes the items of bodies archived by polls whose items never reached dedupe; twice is a no-op", async () => {
    // Polls archive their bodies and queue the items, but no dedupe worker runs (an outage).
    const sample = await startSampleServer(0);
    const rt = createRuntime(config, createLogger("silent", { pretty: false }));
    let parsed = 0;
    try {
      for (const url of sample.feedUrls) {
        const { feed } = await addFeed(t.db, { url });
        const res = await pollFeed(rt.pollDeps, feed.id);
        expect(res.outcome).toBe("ok");
        parsed += res.items;
      }
    } finally {
      await rt.close();
      await sample.close();
    }
    expect(await count("items")).toBe(0);

    const dry = await replay(["fetches", "--all", "--since", "1h", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.s).toMatchObject({ read: parsed, new: parsed, updated: 0, unchanged: 0, failed: 0, dryRun: true, fetches: 4 });
    expect(await count("items")).toBe(0);
    expect(await indexKeys()).toBe(0);

    const first = await replay(["fetches", "--all", "--since", "1h"]);
    expect(first.code).toBe(0);
    expect(first.s).toMatchObject({ read: parsed, new: parsed, updated: 0, unchanged: 0, failed: 0, dryRun: false, feeds: 4, fetches: 4 });
    expect(await count("items")).toBe(parsed);
    expect(await count("stories")).toBeGreaterThan(0);
    expect(await count("stories")).toBeLessThan(parsed); // reprints were clustered
    // Not a terminal: progress comes as plain lines on stderr.
    expect(first.stderr).toMatch(/^replaying fetches: \d+\/4 \d+%/m);

    const before = await snapshotRows(t.pool);
    const second = await replay(["fetches", "--all", "--since", "1h"]);
    expect(second.code).toBe(0);
    expect(second.s).toMatchObject({ read: parsed, new: 0, updated: 0, unchanged: parsed, failed: 0 });
    expect(await snapshotRows(t.pool)).toBe(before);

    const text = await newsfeed(["replay", "fetches", "--all", "--since", "1h"]);
    expect(text.code).toBe(0);
    expect(text.stdout.trim()).toBe(
      `replayed 4 archived fetches of 4 feeds: read ${parsed}; new 0, updated 0, unchanged ${parsed}, failed 0`,
    );
  });

  it("keeps the newest version of each item, never overwrites a newer stored one, and reports a bad body", async () => {
    const { feed } = await addFeed(t.db, { url: "https://replay.example/rss" });
    const a1 = { guid: "a", title: "Harbor vote first", text: body(1) };
    const a2 = { guid: "a", title: "Harbor vote edited", text: body(1) };
    const b = { guid: "b", title: "Rail strike", text: body(2) };
    const c = { guid: "c", title: "Museum opens", text: body(3) };
    const t1 = hoursAgo(5);
    const t2 = hoursAgo(4);
    const t3 = hoursAgo(3);
    await archive(feed.id, t1, rss([a1, b]));
    await archive(feed.id, t2, rss([a2, b, c]));
    await archive(feed.id, t3, rss([a2, b, c]));
    const bad = await archive(feed.id, hoursAgo(2), "Service Unavailable: try again later");
    const until = hoursAgo(2.5).toISOString();

    const dry = await replay(["fetches", "--feed", String(feed.id), "--since", "6h", "--until", until, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.s).toMatchObject({ read: 3, new: 3, updated: 0, unchanged: 0, failed: 0, dryRun: true, fetches: 3, parsed: 8 });
    expect(await count("items")).toBe(0);
    expect(await indexKeys()).toBe(0);

    const first = await replay(["fetches", "--feed", feed.url, "--since", "6h", "--until", until]);
    expect(first.code).toBe(0);
    expect(first.s).toMatchObject({ read: 3, new: 3, updated: 0, unchanged: 0, failed: 0 });
    const { rows } = await t.pool.query(`SELECT identity_key, title, first_seen_at, last_seen_at FROM items ORDER BY identity_key`);
    // a: the edited version, seen when it first appeared; b: unchanged since the first fetch.
    expect(rows).toEqual([
      { identity_key: "guid:a", title: a2.title, first_seen_at: t2, last_seen_at: t2 },
      { identity_key: "guid:b", title: b.title, first_seen_at: t1, last_seen_at: t1 },
      { identity_key: "guid:c", title: c.title, first_seen_at: t2, last_seen_at: t2 },
    ]);

    const before = await snapshotRows(t.pool);
    const second = await replay(["fetches", "--feed", String(feed.id), "--since", "6h", "--until", until]);
    expect(second.code).toBe(0);
    expect(second.s).toMatchObject({ read: 3, new: 0, updated: 0, unchanged: 3, failed: 0 });
    expect(await snapshotRows(t.pool)).toBe(before);

    // A newer version of a, seen now (a backfill), is never overwritten by the archived one.
    const dir = await mkdtemp(join(tmpdir(), "nf-replay-"));
    await writeFile(join(dir, "a.jsonl"), `${JSON.stringify({ guid: "a", title: "Harbor vote corrected", content: body(1), url: "/n/a" })}\n`);
    expect((await replay(["file", join(dir, "a.jsonl"), "--feed", String(feed.id)])).s).toMatchObject({ updated: 1 });
    const stored = await snapshotRows(t.pool);

    // The whole range: the malformed body is counted and reported, the rest is replayed.
    const all = await replay(["fetches", "--feed", String(feed.id), "--since", "6h"]);
    expect(all.code).toBe(1);
    expect(all.s).toMatchObject({ read: 3, new: 0, updated: 0, unchanged: 3, older: 1, failed: 1, fetches: 3 });
    expect(all.s.failures).toEqual([{ what: expect.stringContaining(`fetch ${bad} (feed ${feed.id}`), error: expect.stringMatching(/^parse: /) }]);
    expect(await snapshotRows(t.pool)).toBe(stored);
    const text = await newsfeed(["replay", "fetches", "--feed", String(feed.id), "--since", "6h"]);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(new RegExp(`^failed: fetch ${bad} \\(feed ${feed.id}, .*\\): parse: `, "m"));
    expect(text.stdout).toMatch(/unchanged 3, failed 1; 1 of the unchanged are older than the stored version/);
  });

  it.each([
    { args: ["fetches", "--since", "1h"], msg: /give exactly one of --feed <id\|url> or --all/ },
    { args: ["fetches", "--all", "--feed", "1", "--since", "1h"], msg: /give exactly one of --feed/ },
    { args: ["fetches", "--all"], msg: /missing --since/ },
    { args: ["fetches", "--all", "--since", "soon"], msg: /--since must be a duration ago/ },
    { args: ["fetches", "--all", "--since", "1h", "--until", "2h"], msg: /must be before --until/ },
    { args: ["fetches", "--feed", "999", "--since", "1h"], msg: /no feed '999'/ },
    { args: ["failed", "--queue", "nope"], msg: /--queue must be fetch or items, got 'nope'/ },
    { args: ["failed", "--queue", "items", "--limit", "0"], msg: /--limit must be a whole number/ },
    { args: ["file", "/nonexistent/feed.xml", "--feed", "1"], msg: /cannot read \/nonexistent\/feed.xml: ENOENT/ },
    { args: ["file", "feed.xml"], msg: /missing --feed/ },
  ])("replay $args exits 2 with one line", async ({ args, msg }) => {
    const r = await newsfeed(["replay", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(msg);
  });
});

describe("replay file", { timeout: 120_000 }, () => {
  let feed: Feed;
  let dir: string;
  beforeEach(async () => {
    feed = (await addFeed(t.db, { url: "https://file.example/feed" })).feed;
    dir = await mkdtemp(join(tmpdir(), "nf-replay-"));
  });

  it.each([
    { name: "feed.xml", text: () => rss([1, 2, 3].map((i) => ({ guid: `x${i}`, title: `Story ${i}`, text: body(i) }))) },
    {
      name: "feed.json",
      text: () => JSON.stringify({
        version: "https://jsonfeed.org/version/1.1", title: "J",
        items: [1, 2, 3].map((i) => ({ id: `j${i}`, url: `https://file.example/j/${i}`, title: `Story ${i}`, content_html: `<p>${body(i)}</p>` })),
      }),
    },
  ])("ingests $name; a dry run writes nothing; twice is a no-op", async ({ name, text }) => {
    const path = join(dir, name);
    await writeFile(path, text());
    const dry = await replay(["file", path, "--feed", String(feed.id), "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.s).toMatchObject({ read: 3, new: 3, updated: 0, unchanged: 0, failed: 0, dryRun: true });
    expect(await count("items")).toBe(0);
    expect(await indexKeys()).toBe(0);

    const first = await replay(["file", path, "--feed", feed.url, "--seen-at", "2h"]);
    expect(first.code).toBe(0);
    expect(first.s).toMatchObject({ read: 3, new: 3, updated: 0, unchanged: 0, failed: 0, dryRun: false });
    expect(await count("items")).toBe(3);
    expect(await count("story_items")).toBe(3);

    const before = await snapshotRows(t.pool);
    const second = await newsfeed(["replay", "file", path, "--feed", String(feed.id)]);
    expect(second.code).toBe(0);
    expect(second.stdout.trim()).toBe(`replayed ${path} into feed ${feed.id}: read 3; new 0, updated 0, unchanged 3, failed 0`);
    expect(await snapshotRows(t.pool)).toBe(before);
  });

  it("ingests items.jsonl, counting a bad line as failed by its number", async () => {
    const path = join(dir, "items.jsonl");
    const lines = [
      JSON.stringify({ guid: "l1", title: "Flood warning", content: body(11), url: "https://file.example/l/1", publishedAt: "2024-05-01T08:00:00Z" }),
      `{"guid": "l2", "title": "broken`,
      JSON.stringify({ title: "Tram line", content: body(12), url: "/l/3", seenAt: "2024-05-01T09:00:00Z" }),
      "",
    ];
    await writeFile(path, lines.join("\n"));

    const dry = await replay(["file", path, "--feed", String(feed.id), "--dry-run"]);
    expect(dry.s).toMatchObject({ read: 2, new: 2, failed: 1, dryRun: true });
    expect(await count("items")).toBe(0);

    const first = await replay(["file", path, "--feed", String(feed.id)]);
    expect(first.code).toBe(1);
    expect(first.s).toMatchObject({ read: 2, new: 2, updated: 0, unchanged: 0, failed: 1 });
    expect(first.s.failures).toEqual([{ what: "line 2", error: expect.stringMatching(/^not JSON: /) }]);
    const { rows } = await t.pool.query(`SELECT identity_key, url, published_at, last_seen_at FROM items ORDER BY identity_key`);
    expect(rows).toEqual([
      { identity_key: "guid:l1", url: "https://file.example/l/1", published_at: new Date("2024-05-01T08:00:00Z"), last_seen_at: expect.any(Date) },
      { identity_key: "url:https://file.example/l/3", url: "https://file.example/l/3", published_at: null, last_seen_at: new Date("2024-05-01T09:00:00Z") },
    ]);

    const before = await snapshotRows(t.pool);
    const second = await newsfeed(["replay", "file", path, "--feed", String(feed.id)]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^failed: line 2: not JSON: /m);
    expect(second.stdout).toMatch(/read 2; new 0, updated 0, unchanged 2, failed 1/);
    expect(await snapshotRows(t.pool)).toBe(before);
  });

  it("counts a file that is not a feed as failed", async () => {
    const path = join(dir, "page.html");
    await writeFile(path, "<html><body>not a feed</body></html>");
    const r = await replay(["file", path, "--feed", String(feed.id)]);
    expect(r.code).toBe(1);
    expect(r.s).toMatchObject({ read: 0, new: 0, failed: 1 });
    expect(r.s.failures[0]).toMatchObject({ what: path, error: expect.stringMatching(/^parse: /) });
  });
});

describe("replay failed", { timeout: 120_000 }, () => {
  it("retries failed items jobs once; a job whose payload does not parse stays failed", async () => {
    const prefix = queuePrefix(config.NEWSFEED_REDIS_PREFIX);
    const { feed } = await addFeed(t.db, { url: "https://failed.example/rss" });
    const items = normalizeItems(
      { title: null, link: null, items: [1, 2, 3].map((i) => ({ guid: `f${i}`, link: `/f/${i}`, title: `Failed ${i}`, content: body(20 + i), date: null })) },
      { feedId: feed.id, feedUrl: feed.url, seenAt: new Date() },
    );
    const queue = new Queue(QUEUES.items, { connection: redis, prefix });
    try {
      await queue.add(JOB_NAMES.items, { feedId: feed.id, items }, { jobId: "items-good", attempts: 1 });
      await queue.add(JOB_NAMES.items, { feedId: feed.id, items: [] }, { jobId: "items-bad", attempts: 1 });
      // A worker that fails every job (Postgres down, say).
      const failing = new Worker(QUEUES.items, async () => {
        throw new UnrecoverableError("database unavailable");
      }, { connection: redis, prefix });
      await vi.waitFor(async () => expect(await queue.getFailedCount()).toBe(2), { timeout: 10_000 });
      await failing.close();

      const dry = await replay(["failed", "--queue", "items", "--dry-run"]);
      expect(dry.code).toBe(1);
      expect(dry.s).toMatchObject({ read: 2, new: 1, failed: 1, dryRun: true, retried: 0 });
      expect(dry.s.jobs).toEqual([
        expect.objectContaining({ id: "items-good", feedId: feed.id, items: 3, action: "would retry", error: "database unavailable" }),
        expect.objectContaining({ id: "items-bad", action: "not retried" }),
      ]);
      expect(await queue.getFailedCount()).toBe(2);
      const dryText = await newsfeed(["replay", "failed", "--queue", "items", "--dry-run"]);
      expect(dryText.stdout).toMatch(/items-good\s+\d+\s+3\s+1\s+database unavailable\s+retry/);
      expect(dryText.stdout).toMatch(/2 failed jobs found; dry run, nothing changed: would retry 1, not retried 1/);

      const first = await replay(["failed", "--queue", "items"]);
      expect(first.code).toBe(1);
      expect(first.s).toMatchObject({ read: 2, new: 1, failed: 1, retried: 1 });
      expect(first.s.failures).toEqual([{ what: "job items-bad", error: expect.stringMatching(/^payload invalid, not retried: items: /) }]);

      // The dedupe worker, back, processes the retried job.
      const worker = createDedupeWorker({
        connection: redis, prefix, concurrency: 1, logger: createLogger("silent", { pretty: false }),
        deps: { db: t.db, index: createIndex(config, redis), settings: dedupeSettings(config) },
      });
      try {
        await vi.waitFor(async () => {
          expect(await count("items")).toBe(3);
          expect(await queue.getJobCounts("waiting", "active")).toMatchObject({ waiting: 0, active: 0 });
        }, { timeout: 20_000, interval: 100 });
      } finally {
        await worker.close();
      }

      const before = await snapshotRows(t.pool);
      const second = await replay(["failed", "--queue", "items"]);
      expect(second.s).toMatchObject({ read: 1, new: 0, failed: 1, retried: 0 });
      expect(await snapshotRows(t.pool)).toBe(before);

      const fetch = await newsfeed(["replay", "failed", "--queue", "fetch"]);
      expect(fetch.code).toBe(0);
      expect(fetch.stdout.trim()).toBe("fetch queue: 0 failed jobs found; retried 0 (back in the queue for the fetch workers), not retried 0");
    } finally {
      await queue.close();
    }
  });
});

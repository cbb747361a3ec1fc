/** The `newsfeed` command as an operator runs it: exit codes, one-line errors, real database. */
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { Queue, Worker } from "bullmq";
import { afterAll, describe, expect, it, vi } from "vitest";
import { JOB_NAMES, QUEUES, queuePrefix } from "@newsfeed/jobs";
import { dropRedisPrefix, runCli, scratchDatabase, TEST_REDIS_URL } from "./helpers.ts";

const db = scratchDatabase("nf_cli");
const newsfeed = (args: string[], env: Record<string, string> = {}) => runCli(args, { DATABASE_URL: db.url, ...env });

afterAll(() => db.drop());

describe.concurrent("usage errors", () => {
  it.each([
    { args: ["bogus"], msg: /unknown command 'bogus'/ },
    { args: ["feeds"], msg: /'newsfeed feeds' needs a command/ },
    { args: ["feeds", "add"], msg: /missing <url>/ },
    { args: ["feeds", "add", "ftp://x.example/feed"], msg: /unsupported URL scheme 'ftp:'/ },
    { args: ["feeds", "add", "not a url"], msg: /not a URL/ },
    { args: ["stories", "--limit", "0"], msg: /--limit must be a whole number/ },
    { args: ["stories", "--since", "soon"], msg: /--since must be a duration/ },
    { args: ["stories", "--nope"], msg: /Unknown option '--nope'/ },
    { args: ["run", "everything"], msg: /unknown role 'everything'/ },
  ])("newsfeed $args exits 2 with one line", async ({ args, msg }) => {
    const r = await newsfeed(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(msg);
  });

  it("names the setting when the configuration is invalid", async () => {
    const r = await newsfeed(["stories"], { DEDUPE_WINDOW_HOURS: "soon" });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^newsfeed: invalid DEDUPE_WINDOW_HOURS="soon"/);
  });

  it.each([[[]], [["--help"]], [["feeds", "--help"]], [["feeds", "import", "--help"]], [["run", "-h"]], [["stories", "--help"]]])(
    "newsfeed %j prints help and exits 0",
    async (args) => {
      const r = await newsfeed(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: newsfeed/);
    },
  );
});

describe("queues", { timeout: 120_000 }, () => {
  it("counts jobs per queue and lists failures with their errors", async () => {
    const prefix = `nf-test-cli-${randomBytes(4).toString("hex")}`;
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const fetch = new Queue(QUEUES.fetch, { connection: redis, prefix: queuePrefix(prefix) });
    try {
      await fetch.add(JOB_NAMES.fetch, { feedId: 7 }, { jobId: "doomed" });
      const worker = new Worker(QUEUES.fetch, async () => {
        throw new Error("publisher exploded");
      }, { connection: redis, prefix: queuePrefix(prefix) });
      await vi.waitFor(async () => expect(await fetch.getFailedCount()).toBe(1), { timeout: 10_000 });
      await worker.close();
      await fetch.add(JOB_NAMES.fetch, { feedId: 8 }, { jobId: "waiting-one" });
      const env = { NEWSFEED_REDIS_PREFIX: prefix };
      const stats = JSON.parse((await newsfeed(["queues", "--json"], env)).stdout) as { queue: string; waiting: number; failed: number; oldestWaitingS: number }[];
      expect(stats.find((s) => s.queue === "fetch")).toMatchObject({ waiting: 1, failed: 1 });
      expect(stats.find((s) => s.queue === "items")).toMatchObject({ waiting: 0, failed: 0, oldestWaitingS: null });
      const text = await newsfeed(["queues"], env);
      expect(text.stdout).toMatch(/^fetch\s+1\s+0\s+0\s+1\s+\d+ s$/m);
      const failures = await newsfeed(["queues", "failed", "--queue", "fetch"], env);
      expect(failures.stdout).toMatch(/doomed\s+7\s+-\s+1\s+publisher exploded/);
      const bad = await newsfeed(["queues", "failed", "--queue", "nope"], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--queue must be fetch or items, got 'nope'/);
    } finally {
      await fetch.obliterate({ force: true });
      await fetch.close();
      await redis.quit();
      await dropRedisPrefix({ REDIS_URL: TEST_REDIS_URL, NEWSFEED_REDIS_PREFIX: prefix });
    }
  });
});

describe("against a database", { timeout: 120_000 }, () => {
  it("refuses to run services before migrations, then migrates", async () => {
    // The database does not exist yet: `run` cannot start, `migrate` creates it.
    const refused = await newsfeed(["run", "dedupe"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^newsfeed: database "nf_cli_\w+" does not exist: run `pnpm newsfeed migrate`/);
    const m = await newsfeed(["migrate"]);
    expect(m.code).toBe(0);
    expect(m.stdout).toMatch(/created database/);
    expect(m.stdout).toMatch(/applied \d+ migration/);
    const again = await newsfeed(["migrate"]);
    expect(again.stdout).toMatch(/schema up to date/);
  });

  it("adds, lists, exports and re-imports feeds", async () => {
    expect((await newsfeed(["feeds", "add", "https://a.example/rss"])).stdout).toMatch(/added feed \d+/);
    expect((await newsfeed(["feeds", "add", "https://a.example/rss"])).stdout).toMatch(/already exists/);
    const dir = await mkdtemp(join(tmpdir(), "nf-opml-"));
    const opml = join(dir, "in.opml");
    await writeFile(
      opml,
      `<opml version="2.0"><body><outline text="B" xmlUrl="https://b.example/atom"/><outline text="A" xmlUrl="https://a.example/rss"/><outline text="bad" xmlUrl="file:///etc/passwd"/></body></opml>`,
    );
    const imp = await newsfeed(["feeds", "import", opml]);
    expect(imp.code).toBe(0);
    expect(imp.stdout).toMatch(/3 feeds in .*: 1 added, 1 already present, 1 skipped/);
    const list = JSON.parse((await newsfeed(["feeds", "list", "--json"])).stdout) as { url: string }[];
    expect(list.map((f) => f.url).sort()).toEqual(["https://a.example/rss", "https://b.example/atom"]);

    const exported = await newsfeed(["feeds", "export"]);
    const out = join(dir, "out.opml");
    await writeFile(out, exported.stdout);
    const reimport = await newsfeed(["feeds", "import", out]);
    expect(reimport.stdout).toMatch(/2 feeds in .*: 0 added, 2 already present, 0 skipped/);

    const missing = await newsfeed(["feeds", "import", join(dir, "nope.opml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope.opml: ENOENT/);
  });

  it("polls one feed with the worker's code and shows its state and fetches", async () => {
    const server = createServer((req, res) => {
      if (req.url === "/ok.xml") {
        res.writeHead(200, { "content-type": "application/rss+xml" });
        res.end(`<rss version="2.0"><channel><title>Polled</title><item><guid>1</guid><title>One</title><description>First item.</description></item></channel></rss>`);
      } else {
        res.writeHead(500);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const env = { NEWSFEED_REDIS_PREFIX: `nf-test-cli-${randomBytes(4).toString("hex")}`, FETCH_ALLOW_PRIVATE: "127.0.0.1" };
    try {
      const id = /added feed (\d+)/.exec((await newsfeed(["feeds", "add", `${base}/ok.xml`])).stdout)![1]!;
      const polled = await newsfeed(["feeds", "poll", id], env);
      expect(polled.code).toBe(0);
      expect(polled.stdout).toMatch(new RegExp(`feed ${id}: HTTP 200, 1 items, 1 new, 0 updated`));
      const show = await newsfeed(["feeds", "show", `${base}/ok.xml`]);
      expect(show.code).toBe(0);
      expect(show.stdout).toMatch(/state\s+active/);
      expect(show.stdout).toMatch(/title\s+Polled/);
      expect(show.stdout).toMatch(/\bok\s+200\b/);
      const json = JSON.parse((await newsfeed(["feeds", "show", id, "--json"])).stdout) as { feed: { id: number }; fetches: { itemsNew: number }[] };
      expect(json.feed.id).toBe(Number(id));
      expect(json.fetches[0]!.itemsNew).toBe(1);

      const bad = /added feed (\d+)/.exec((await newsfeed(["feeds", "add", `${base}/broken.xml`])).stdout)![1]!;
      const failed = await newsfeed(["feeds", "poll", bad], env);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toMatch(/failed, http_status \(HTTP 500\)/);
      expect((await newsfeed(["feeds", "reset-errors", bad])).stdout).toMatch(new RegExp(`feed ${bad}: errors cleared, due now`));
      expect((await newsfeed(["feeds", "reset-errors", bad])).stdout).toMatch(/has no errors/);
      expect((await newsfeed(["feeds", "pause", id])).stdout).toMatch(new RegExp(`feed ${id}: paused`));
      const paused = await newsfeed(["feeds", "poll", id], env);
      expect(paused.code).toBe(2);
      expect(paused.stderr).toMatch(/is paused: it is not polled/);
      expect((await newsfeed(["feeds", "resume", id])).stdout).toMatch(/polled again from now/);
      expect(JSON.parse((await newsfeed(["feeds", "resume", id, "--json"])).stdout)).toEqual({ feedId: Number(id), changed: false });
      const unknown = await newsfeed(["feeds", "show", "99999"]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/no feed '99999'/);
    } finally {
      server.close();
      await dropRedisPrefix({ REDIS_URL: TEST_REDIS_URL, NEWSFEED_REDIS_PREFIX: env.NEWSFEED_REDIS_PREFIX });
    }
  });

  it("refreshes the analytics rollups", async () => {
    const r = await newsfeed(["analytics", "refresh", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { refreshed: boolean; ms: Record<string, number> };
    expect(out.refreshed).toBe(true);
    expect(Object.keys(out.ms)).toEqual(["analytics.outlet_delay_7d", "analytics.feed_duplicates_7d", "analytics.outlet_pairs_7d"]);
    expect((await newsfeed(["analytics", "refresh"])).stdout).toMatch(/^refreshed analytics\.outlet_delay_7d \(\d+ ms\), .* in \d+\.\d s$/m);
  });

  it("prints stories, or says there are none", async () => {
    const r = await newsfeed(["stories", "--since", "1h"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no stories seen since/);
  });
});

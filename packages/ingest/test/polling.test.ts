/**
 * Polling rules 1–5 and 13 of docs/ingest.md, each against a local HTTP server
 * that plays the publisher, with the real Postgres (a database of this file's
 * own) and Redis (a prefix of its own).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ownedKeyPatterns, QUEUES, type ItemPayload, queuePrefix } from "@newsfeed/jobs";
import { HostGate, pollFeed, type PollDeps } from "@newsfeed/ingest";
import { addFeed, createDb, FeedLoader, getFeed, pruneFetches, recentFetches } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const MIN = 60_000;
const HOUR = 60 * MIN;
let t: TestDatabase;
let redis: Redis;
let server: Server;
let origin: string;
let itemsQueue: Queue;
const prefix = `nf-test-${randomBytes(5).toString("hex")}`;
const routes = new Map<string, Handler>();
const requests = new Map<string, IncomingMessage["headers"][]>();

const rss = (items: { guid: string; title: string; body?: string }[], extra = "") =>
  `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Test</title><link>http://example.test/</link>${extra}${items
    .map((i) => `<item><guid>${i.guid}</guid><title>${i.title}</title><description>${i.body ?? `Body of ${i.title}.`}</description></item>`)
    .join("")}</channel></rss>`;

const serve = (body: string, headers: Record<string, string> = {}, status = 200): Handler => (_req, res) => {
  res.writeHead(status, { "content-type": "application/rss+xml", ...headers });
  res.end(body);
};

let feedSeq = 0;
/** A feed at a path of its own, served by `handler`. */
async function feedAt(handler: Handler, base = origin): Promise<{ id: number; path: string; url: string }> {
  const path = `/f${++feedSeq}.xml`;
  routes.set(path, handler);
  const url = `${base}${path}`;
  const { feed } = await addFeed(t.db, { url });
  return { id: feed.id, path, url };
}

function deps(extra: Partial<PollDeps> = {}): PollDeps {
  return {
    db: t.db,
    itemsQueue,
    logger: pino({ level: "silent" }),
    http: { timeoutMs: 5_000, maxBytes: 1_000_000, userAgent: "newsfeed-test/1", allowPrivate: ["127.0.0.1"] },
    schedule: { minIntervalMs: 5 * MIN, maxIntervalMs: 24 * HOUR, defaultIntervalMs: 30 * MIN, jitter: 0.1 },
    random: () => 0.5,
    ...extra,
  };
}

/** Items queued for dedupe so far (jobs are not processed in this file). */
async function queuedItems(): Promise<ItemPayload[]> {
  const jobs = await itemsQueue.getJobs(["waiting"]);
  return jobs.flatMap((j) => (j.data as { items: ItemPayload[] }).items);
}

/** Stores queued items as the dedupe stage would (only what "new or changed" needs). */
async function storeQueued(): Promise<void> {
  for (const it of await queuedItems()) {
    await t.pool.query(
      `INSERT INTO items (feed_id, identity_key, title, text, first_seen_at, last_seen_at, content_hash, simhash)
       VALUES ($1, $2, $3, '', now(), now(), $4, 0)
       ON CONFLICT (feed_id, identity_key) DO UPDATE SET content_hash = EXCLUDED.content_hash`,
      [it.feedId, it.identityKey, it.title, it.contentHash],
    );
  }
  await itemsQueue.drain();
}

beforeAll(async () => {
  t = await createTestDatabase();
  redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: null });
  itemsQueue = new Queue(QUEUES.items, { connection: redis, prefix: queuePrefix(prefix) });
  server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    requests.set(path, [...(requests.get(path) ?? []), req.headers]);
    const h = routes.get(path);
    if (h) h(req, res);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await itemsQueue?.obliterate({ force: true }).catch(() => {});
  await itemsQueue?.close();
  // Every key under the prefix: the host gates', and the queue's under its `{prefix:q}` hash tag.
  for (const match of ownedKeyPatterns(prefix)) {
    for await (const keys of redis.scanStream({ match, count: 1000 }) as AsyncIterable<string[]>) if (keys.length) await redis.del(...keys);
  }
  await redis?.quit();
  await new Promise((r) => server?.close(r));
  await t?.drop();
});

beforeEach(async () => {
  await itemsQueue.drain();
});

const sinceNow = async (id: number, now: Date) => (await getFeed(t.db, id))!.nextCheckAt.getTime() - now.getTime();

describe("rule 1: conditional GET and the forced fetch", () => {
  it("sends both validators and treats 304 as not modified", async () => {
    const f = await feedAt((req, res) => {
      if (req.headers["if-none-match"] === '"v1"') {
        res.writeHead(304);
        res.end();
        return;
      }
      serve(rss([{ guid: "a", title: "A" }]), { etag: '"v1"', "last-modified": "Wed, 25 Nov 2026 10:00:00 GMT" })(req, res);
    });
    const t0 = new Date();
    expect((await pollFeed(deps({ now: () => t0 }), f.id)).outcome).toBe("ok");
    const t1 = new Date(t0.getTime() + HOUR);
    const second = await pollFeed(deps({ now: () => t1 }), f.id);
    expect(second).toMatchObject({ outcome: "not_modified", status: 304, items: 0 });
    const sent = requests.get(f.path)!.at(-1)!;
    expect(sent["if-none-match"]).toBe('"v1"');
    expect(sent["if-modified-since"]).toBe("Wed, 25 Nov 2026 10:00:00 GMT");
    expect((await recentFetches(t.db, f.id))[0]).toMatchObject({ outcome: "not_modified", status: 304 });
  });

  it("treats a 200 with the same body as not modified: no parse, no items", async () => {
    const f = await feedAt(serve(rss([{ guid: "a", title: "A" }])));
    const t0 = new Date();
    await pollFeed(deps({ now: () => t0 }), f.id);
    await itemsQueue.drain();
    const again = await pollFeed(deps({ now: () => new Date(t0.getTime() + HOUR) }), f.id);
    expect(again).toMatchObject({ outcome: "not_modified", status: 200 });
    expect(await queuedItems()).toEqual([]);
  });

  it("forces a fetch without validators once the force interval has passed", async () => {
    const f = await feedAt(serve(rss([{ guid: "a", title: "A" }]), { etag: '"x"' }));
    const t0 = new Date();
    const d = (at: number) => deps({ now: () => new Date(t0.getTime() + at), forceIntervalMs: 12 * HOUR });
    await pollFeed(d(0), f.id);
    await pollFeed(d(HOUR), f.id);
    await pollFeed(d(13 * HOUR), f.id);
    const sent = requests.get(f.path)!;
    expect(sent.map((h) => h["if-none-match"] ?? null)).toEqual([null, '"x"', null]);
  });
});

describe("rule 2: adaptive next check, publisher floors, jitter", () => {
  it("waits at least the RSS <ttl>", async () => {
    const f = await feedAt(serve(rss([{ guid: "a", title: "A" }], "<ttl>180</ttl>")));
    const now = new Date();
    await pollFeed(deps({ now: () => now }), f.id);
    expect(await sinceNow(f.id, now)).toBeGreaterThanOrEqual(180 * MIN);
  });

  it("waits at least Cache-Control max-age, also on a 304", async () => {
    const f = await feedAt(serve(rss([{ guid: "a", title: "A" }]), { "cache-control": "max-age=7200" }));
    const now = new Date();
    await pollFeed(deps({ now: () => now }), f.id);
    expect(await sinceNow(f.id, now)).toBeGreaterThanOrEqual(2 * HOUR);
  });

  it("caps a publisher floor at the maximum interval", async () => {
    const f = await feedAt(serve(rss([{ guid: "a", title: "A" }]), { "cache-control": "max-age=9999999" }));
    const now = new Date();
    await pollFeed(deps({ now: () => now, random: () => 0 }), f.id);
    expect(await sinceNow(f.id, now)).toBe(24 * HOUR);
  });

  it("follows the feed's item rate", async () => {
    let items = [{ guid: "a", title: "A" }];
    const f = await feedAt((req, res) => serve(rss(items))(req, res));
    const t0 = new Date();
    await pollFeed(deps({ now: () => t0 }), f.id);
    await storeQueued();
    expect((await getFeed(t.db, f.id))!.itemsPerDay).toBeNull(); // a first fetch is a backlog, not a rate
    // Twelve hours later, six new items: 12 a day, one every 2 hours.
    items = [...items, ...Array.from({ length: 6 }, (_, i) => ({ guid: `n${i}`, title: `N${i}` }))];
    const t1 = new Date(t0.getTime() + 12 * HOUR);
    const res = await pollFeed(deps({ now: () => t1 }), f.id);
    expect(res).toMatchObject({ outcome: "ok", newItems: 6 });
    expect((await getFeed(t.db, f.id))!.itemsPerDay).toBeCloseTo(12, 5);
    expect(await sinceNow(f.id, t1)).toBe(2 * HOUR);
  });

  it("spreads feeds that share a schedule", async () => {
    const now = new Date();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await feedAt(serve(rss([{ guid: "a", title: "A" }])))).id);
    for (const id of ids) await pollFeed(deps({ now: () => now, random: Math.random }), id);
    const next = new Set(await Promise.all(ids.map((id) => sinceNow(id, now))));
    expect(next.size).toBe(5);
  });
});

describe("rule 3: Retry-After on 429 and 503, for the feed and its host", () => {
  it.each([
    { status: 429, retryAfter: "120", waitMs: 120_000 },
    { status: 503, retryAfter: "HTTP-date", waitMs: 600_000 },
  ])("$status with Retry-After $retryAfter", async ({ status, retryAfter, waitMs }) => {
    const now = new Date();
    const value = retryAfter === "HTTP-date" ? new Date(now.getTime() + waitMs).toUTCString() : retryAfter;
    const limited = await feedAt(serve("busy", { "retry-after": value }, status));
    const sibling = await feedAt(serve(rss([{ guid: "a", title: "A" }])));
    // A gate of its own (its own Redis keys), so that this hold does not touch the other tests.
    const d = deps({ now: () => now, hosts: new HostGate(redis, `${prefix}:hosts-${status}:`, { perMinute: 0 }) });
    const res = await pollFeed(d, limited.id);
    expect(res).toMatchObject({ outcome: "error", status, errorClass: "http_status" });
    expect(await sinceNow(limited.id, now)).toBeGreaterThanOrEqual(waitMs - 1000);
    // The other feed of that host waits too, without a request and without an error.
    const other = await pollFeed(d, sibling.id);
    expect(other).toMatchObject({ outcome: "deferred", deferred: { reason: "hold" } });
    expect(requests.get(sibling.path)).toBeUndefined();
    const s = (await getFeed(t.db, sibling.id))!;
    expect(s.errorCount).toBe(0);
    expect(s.nextCheckAt.getTime()).toBeGreaterThanOrEqual(Date.now() + waitMs - 60_000);
  });
});

describe("rule 4: errors back off, only 410 stops", () => {
  it("stores count, class, message and backs off with capped growth; a success resets", async () => {
    let fail = true;
    const f = await feedAt((req, res) => (fail ? serve("oops", {}, 500) : serve(rss([{ guid: "a", title: "A" }])))(req, res));
    const now = new Date();
    for (let i = 1; i <= 3; i++) {
      await pollFeed(deps({ now: () => now }), f.id);
      const feed = (await getFeed(t.db, f.id))!;
      expect(feed).toMatchObject({ errorCount: i, errorClass: "http_status", lastError: "HTTP 500", state: "active" });
      expect(await sinceNow(f.id, now)).toBe(5 * MIN * 2 ** i);
    }
    for (let i = 4; i <= 12; i++) await pollFeed(deps({ now: () => now }), f.id);
    expect(await sinceNow(f.id, now)).toBe(24 * HOUR); // capped, still polled
    fail = false;
    await pollFeed(deps({ now: () => now }), f.id);
    expect((await getFeed(t.db, f.id))!).toMatchObject({ errorCount: 0, errorClass: null, lastError: null, state: "active" });
  });

  it("records an unexpected failure as internal and backs off; fails the job only when even that record fails", async () => {
    // A real failure, not a mock: the items queue's Redis connection is closed.
    const closedQueue = new Queue(QUEUES.items, { connection: { host: "127.0.0.1", port: 6379 }, prefix: queuePrefix(prefix) });
    await closedQueue.close();
    const f = await feedAt(serve(rss([{ guid: "a", title: "A" }])));
    const now = new Date();
    expect(await pollFeed(deps({ itemsQueue: closedQueue, now: () => now }), f.id)).toMatchObject({ outcome: "error", errorClass: "internal" });
    expect((await getFeed(t.db, f.id))!).toMatchObject({ errorCount: 1, errorClass: "internal", lastError: expect.stringMatching(/^internal error: /) });
    expect(await sinceNow(f.id, now)).toBe(10 * MIN); // the error backoff, not the scheduler's lease
    expect((await recentFetches(t.db, f.id))[0]).toMatchObject({ outcome: "error", errorClass: "internal" });

    // Postgres gone as well (a closed pool): nothing can be recorded, so the job fails with the error itself.
    const closedDb = createDb(t.url);
    await closedDb.close();
    const feeds = new FeedLoader(t.db); // the feed itself still loads
    await expect(pollFeed(deps({ itemsQueue: closedQueue, db: closedDb.db, feeds, now: () => now }), f.id)).rejects.toThrow(/Cannot use a pool after calling end/);
    expect((await getFeed(t.db, f.id))!.errorCount).toBe(1);
  });

  it("stops polling on 410 Gone and says so", async () => {
    const f = await feedAt(serve("gone", {}, 410));
    expect(await pollFeed(deps(), f.id)).toMatchObject({ outcome: "error", errorClass: "gone" });
    expect((await getFeed(t.db, f.id))!.state).toBe("gone");
    expect(await pollFeed(deps(), f.id)).toMatchObject({ outcome: "skipped" });
    expect(requests.get(f.path)).toHaveLength(1);
  });
});

describe("rule 5: per-host budget shared through Redis", () => {
  it("defers fetches over the budget, without an error, across workers", async () => {
    const feeds = [];
    for (let i = 0; i < 3; i++) feeds.push(await feedAt(serve(rss([{ guid: "a", title: "A" }]))));
    const p = `${prefix}:budget-a:`;
    // Two gates on one Redis: two ingest workers sharing the budget.
    const w1 = deps({ hosts: new HostGate(redis, p, { perMinute: 2 }) });
    const w2 = deps({ hosts: new HostGate(redis, p, { perMinute: 2 }) });
    const minute = Math.floor(Date.now() / MIN);
    const results = [await pollFeed(w1, feeds[0]!.id), await pollFeed(w2, feeds[1]!.id), await pollFeed(w1, feeds[2]!.id)];
    // (Should the clock cross a minute boundary in between, a new window opens: skip the check then.)
    if (Math.floor(Date.now() / MIN) !== minute) return;
    expect(results.map((r) => r.outcome)).toEqual(["ok", "ok", "deferred"]);
    expect(requests.get(feeds[2]!.path)).toBeUndefined();
    const deferred = (await getFeed(t.db, feeds[2]!.id))!;
    expect(deferred.errorCount).toBe(0);
    expect(deferred.nextCheckAt.getTime()).toBeGreaterThanOrEqual((minute + 1) * MIN);
    expect(await recentFetches(t.db, feeds[2]!.id)).toEqual([]);
  });

  it("applies a per-host override", async () => {
    const feeds = [];
    for (let i = 0; i < 3; i++) feeds.push(await feedAt(serve(rss([{ guid: "a", title: "A" }]))));
    const host = new URL(origin).host;
    const d = deps({ hosts: new HostGate(redis, `${prefix}:budget-b:`, { perMinute: 1, overrides: new Map([[host, 10]]) }) });
    const outcomes = [];
    for (const f of feeds) outcomes.push((await pollFeed(d, f.id)).outcome);
    expect(outcomes).toEqual(["ok", "ok", "ok"]);
  });
});

describe("rule 6: the stored URL follows permanent redirects only", () => {
  const redirect = (status: number, to: string): Handler => (_req, res) => {
    res.writeHead(status, { location: to });
    res.end();
  };
  it.each([
    { name: "301 then 308: moves", chain: [301, 308], moves: true },
    { name: "301 then 302: stays", chain: [301, 302], moves: false },
    { name: "307: stays", chain: [307], moves: false },
  ])("$name", async ({ chain, moves }) => {
    const tag = `r${++feedSeq}`;
    const final = `/${tag}-final.xml`;
    routes.set(final, serve(rss([{ guid: "a", title: "A" }])));
    chain.forEach((status, i) => routes.set(`/${tag}-${i}.xml`, redirect(status, i + 1 < chain.length ? `/${tag}-${i + 1}.xml` : final)));
    const { feed } = await addFeed(t.db, { url: `${origin}/${tag}-0.xml` });
    expect(await pollFeed(deps(), feed.id)).toMatchObject({ outcome: "ok", items: 1 });
    expect((await getFeed(t.db, feed.id))!.url).toBe(moves ? `${origin}${final}` : `${origin}/${tag}-0.xml`);
    expect((await recentFetches(t.db, feed.id))[0]!.finalUrl).toBe(`${origin}${final}`);
  });

  it("stays when another feed already has the new URL", async () => {
    routes.set("/taken.xml", serve(rss([{ guid: "a", title: "A" }])));
    routes.set("/moving.xml", redirect(301, "/taken.xml"));
    await addFeed(t.db, { url: `${origin}/taken.xml` });
    const { feed } = await addFeed(t.db, { url: `${origin}/moving.xml` });
    expect(await pollFeed(deps(), feed.id)).toMatchObject({ outcome: "ok" });
    expect((await getFeed(t.db, feed.id))!.url).toBe(`${origin}/moving.xml`);
  });
});

describe("rule 12: full text for feeds that opted in", () => {
  const paragraph = (i: number) =>
    `<p>Paragraph ${i} of the harbour report: the port authority said that the night shift had cleared the backlog of container ships, ` +
    `that the cranes on the northern quay were running again after the repairs, and that pilots expected normal traffic by the weekend.</p>`;
  const page = `<!doctype html><html><head><title>Harbour report</title></head><body>
    <nav><a href="/">Home</a> <a href="/sport">Sport</a> Subscribe to our newsletter</nav>
    <article><h1>Harbour report</h1>${Array.from({ length: 8 }, (_, i) => paragraph(i)).join("")}</article>
    <aside>Most read: celebrity gossip of the week</aside><footer>Copyright the Harbour Gazette</footer></body></html>`;

  it("replaces a summary with the article's text, and keeps it when the page fails", async () => {
    routes.set("/article-1.html", (_req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(page);
    });
    routes.set("/article-2.html", (_req, res) => {
      res.writeHead(500);
      res.end();
    });
    const path = `/f${++feedSeq}.xml`;
    routes.set(path, (_req, res) => {
      res.writeHead(200, { "content-type": "application/rss+xml" });
      res.end(`<rss version="2.0"><channel><title>Summaries</title>
        <item><guid>1</guid><title>Harbour report</title><link>${origin}/article-1.html</link><description>The port is busy again.</description></item>
        <item><guid>2</guid><title>Broken page</title><link>${origin}/article-2.html</link><description>A teaser.</description></item>
        </channel></rss>`);
    });
    const { feed } = await addFeed(t.db, { url: `${origin}${path}`, fullText: true });
    expect(await pollFeed(deps(), feed.id)).toMatchObject({ outcome: "ok", items: 2, newItems: 2 });
    const queued = new Map((await queuedItems()).map((i) => [i.guid, i]));
    expect(queued.get("1")!.content).toContain("cranes on the northern quay");
    expect(queued.get("1")!.content).not.toContain("celebrity gossip");
    expect(queued.get("1")!.content).not.toContain("Subscribe to our newsletter");
    expect(queued.get("2")!.content).toBe("A teaser.");
    expect(requests.get("/article-1.html")).toHaveLength(1);
  });

  it("fetches no pages for a feed that did not opt in", async () => {
    routes.set("/article-3.html", (_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(page);
    });
    const f = await feedAt(serve(`<rss version="2.0"><channel><title>S</title><item><guid>3</guid><title>T</title><link>${origin}/article-3.html</link><description>Short.</description></item></channel></rss>`));
    await pollFeed(deps(), f.id);
    expect(requests.get("/article-3.html")).toBeUndefined();
    expect((await queuedItems())[0]!.content).toBe("Short.");
  });
});

describe("rule 13: every fetch recorded", () => {
  it("records status, duration, bytes, new and updated items; keeps the body when it changed", async () => {
    let items: { guid: string; title: string; body?: string }[] = [{ guid: "a", title: "A" }, { guid: "b", title: "B" }];
    const f = await feedAt((req, res) => serve(rss(items))(req, res));
    const t0 = new Date();
    await pollFeed(deps({ now: () => t0 }), f.id);
    await storeQueued();
    items = [{ guid: "a", title: "A" }, { guid: "b", title: "B", body: "Body of B, corrected." }, { guid: "c", title: "C" }];
    const res = await pollFeed(deps({ now: () => new Date(t0.getTime() + HOUR) }), f.id);
    expect(res).toMatchObject({ outcome: "ok", items: 3, newItems: 1, updatedItems: 1 });
    // Only the new and the changed item go on to dedupe.
    expect((await queuedItems()).map((i) => i.guid).sort()).toEqual(["b", "c"]);
    const [last, first] = await recentFetches(t.db, f.id);
    expect(last).toMatchObject({ outcome: "ok", status: 200, itemsFound: 3, itemsNew: 1, itemsUpdated: 1, errorClass: null });
    expect(first).toMatchObject({ itemsFound: 2, itemsNew: 2, itemsUpdated: 0 });
    expect(last!.bytes).toBeGreaterThan(100);
    expect(last!.durationMs).toBeGreaterThanOrEqual(0);
    const { rows } = await t.pool.query(`SELECT body_gzip IS NOT NULL AS kept FROM fetches WHERE feed_id = $1 ORDER BY id`, [f.id]);
    expect(rows.map((r) => r.kept)).toEqual([true, true]);
    await pollFeed(deps({ now: () => new Date(t0.getTime() + 2 * HOUR) }), f.id); // unchanged: not kept
    const again = await t.pool.query(`SELECT body_gzip IS NOT NULL AS kept FROM fetches WHERE feed_id = $1 ORDER BY id`, [f.id]);
    expect(again.rows.map((r) => r.kept)).toEqual([true, true, false]);
  });

  it("records the error class of a failed fetch", async () => {
    const f = await feedAt(serve("<html><body>not a feed</body></html>", { "content-type": "text/html" }));
    await pollFeed(deps(), f.id);
    expect((await recentFetches(t.db, f.id))[0]).toMatchObject({ outcome: "error", errorClass: "parse", status: 200 });
  });

  it("prunes fetch history older than the retention", async () => {
    const f = await feedAt(serve(rss([{ guid: "a", title: "A" }])));
    await pollFeed(deps({ now: () => new Date(Date.now() - 100 * 24 * HOUR) }), f.id);
    await pollFeed(deps({ now: () => new Date(Date.now() - 100 * 24 * HOUR + HOUR) }), f.id);
    await pollFeed(deps({ now: () => new Date() }), f.id);
    const removed = await pruneFetches(t.db, new Date(Date.now() - 90 * 24 * HOUR), 1);
    expect(removed).toBeGreaterThanOrEqual(2);
    expect(await recentFetches(t.db, f.id)).toHaveLength(1);
  });
});

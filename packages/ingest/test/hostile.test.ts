/**
 * Hostile publishers: one table of feeds that send garbage or attacks, each
 * polled with the real `pollFeed` (the ingest worker's function, with its
 * batched feed loader and fetch recorder) in the same round as a healthy feed,
 * against a local server on 127.0.0.2, the real Postgres (a database of this
 * file's own) and Redis (a prefix of its own). For each case the test prints
 * what it tried and what it found, and asserts: the hostile feed ends with the
 * pinned error class (or, where the reading rules recover on purpose, with the
 * pinned safe result), the healthy feed's items are queued, the round is
 * bounded by the HTTP limits, the event loop stays responsive and memory does
 * not grow with the attack. Cases and classes: docs/ingest.md ("Hostile input").
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUES, queuePrefix, type ItemPayload } from "@newsfeed/jobs";
import { closeHttp, pollFeed, type HttpLimits, type PollDeps, type PollResult } from "@newsfeed/ingest";
import { addFeed, FeedLoader, FetchRecorder, getFeed, recentFetches } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import { MAX_TITLE_CHARS } from "../src/normalize.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const MIN = 60_000;
const MIB = 1024 * 1024;
/** The publisher's address: allowed by an exact entry; every other private address stays refused. */
const HOST = "127.0.0.2";
const UA = "newsfeed-test/1 (hostile)";
/** Small bounds, so that each case ends fast; the 10 MB cases use the production default size. */
const LIMITS: HttpLimits = { timeoutMs: 1_500, connectTimeoutMs: 1_000, maxBytes: 2 * MIB, userAgent: UA, allowPrivate: [HOST] };
const DEFAULT_SIZE_LIMITS: HttpLimits = { ...LIMITS, timeoutMs: 10_000, maxBytes: 10 * MIB }; // FETCH_MAX_BYTES default
/** The most a hostile case may take beyond its timeout on a loaded machine. */
const SLACK_MS = 5_000;
const MAX_LOOP_STALL_MS = 2_000;
const MAX_RSS_GROWTH = 256 * MIB;

let t: TestDatabase;
let redis: Redis;
let itemsQueue: Queue;
let server: Server;
let origin = "";
/** A service on 127.0.0.1 that a redirect must never reach. */
let secretServer: Server;
let secretPort = 0;
let secretConnections = 0;
let secretFile = "";
const SECRET = `nf-secret-${randomBytes(8).toString("hex")}`;
const prefix = `nf-test-${randomBytes(5).toString("hex")}`;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
const sockets = new Set<Socket>();
/** Bytes the endless body managed to send. */
let endlessWritten = 0;

const rss = (items: string, head = '<?xml version="1.0" encoding="UTF-8"?>') =>
  `${head}<rss version="2.0"><channel><title>Hostile</title><link>http://news.test/</link>${items}</channel></rss>`;
const item = (guid: string, title: string, body = `Body of ${guid}.`) =>
  `<item><guid>${guid}</guid><title>${title}</title><description>${body}</description></item>`;
const send = (body: string | Buffer, type = "application/rss+xml", headers: Record<string, string> = {}): Handler => (_req, res) => {
  res.writeHead(200, { "content-type": type, ...headers });
  res.end(body);
};
const redirectTo = (location: string): Handler => (_req, res) => {
  res.writeHead(302, { location, "content-type": "text/html" });
  res.end(`<a href="${location}">moved</a>`);
};

/** 1 GiB of zeros as 64 gzip members of 16 MiB each: about 1 MB on the wire. */
function gzipBomb(): Buffer {
  const member = gzipSync(Buffer.alloc(16 * MIB), { level: 9 });
  return Buffer.concat(Array.from({ length: 64 }, () => member));
}

const LOL = (() => {
  let dtd = `<!ENTITY lol "lol">`;
  for (let i = 1; i <= 9; i++) dtd += `<!ENTITY lol${i} "${`&lol${i === 1 ? "" : i - 1};`.repeat(10)}">`;
  return `<!DOCTYPE rss [${dtd}]>`;
})();

interface Found {
  hostile: PollResult;
  items: ItemPayload[];
  ms: number;
}

interface Case {
  name: string;
  /** What the publisher does (printed). */
  tried: string;
  /** Path on the publisher's server, or an absolute URL. */
  path: string;
  handler?: Handler;
  /** Other paths the case serves. */
  also?: Record<string, Handler>;
  limits?: HttpLimits;
  /** The feed's error class after the poll; null: the poll succeeds (a reading rule recovers safely). */
  errorClass: string | null;
  message?: RegExp;
  /** Further checks on what the hostile feed left. */
  check?: (found: Found) => void | Promise<void>;
}

const queuedFor = async (feedId: number): Promise<ItemPayload[]> => {
  const jobs = await itemsQueue.getJobs(["waiting"]);
  return jobs.flatMap((j) => (j.data as { feedId: number; items: ItemPayload[] }).feedId === feedId ? j.data.items : []);
};

const CASES: Case[] = [
  {
    name: "XXE",
    tried: "an external entity naming a local secret file (and one naming an internal URL) used in a title",
    path: "/xxe.xml",
    handler: (req, res) =>
      send(
        `<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://${secretFile}"><!ENTITY web SYSTEM "${origin}/secret">]>` +
          rss(item("x1", "read &xxe; and &web;", "&xxe;"), ""),
      )(req, res),
    // An external entity is refused; nothing is read or fetched.
    errorClass: "unsafe_xml",
    message: /declares an external entity \(xxe SYSTEM\)/,
    check: () => {
      expect(hits.get("/secret") ?? 0).toBe(0);
    },
  },
  {
    name: "billion laughs",
    tried: "&lol9; from nine levels of ten references each (10^9 'lol's)",
    path: "/lol.xml",
    handler: send(`<?xml version="1.0"?>${LOL}${rss(item("l1", "&lol9;", "&lol9;&lol8;"), "")}`),
    // An entity whose value names another entity is refused before anything is expanded.
    errorClass: "unsafe_xml",
    message: /declares an entity that expands another \(lol1 uses &lol;\)/,
  },
  {
    name: "quadratic blowup",
    tried: "one 4,000-character entity referenced 100,000 times (400 MB expanded)",
    path: "/quadratic.xml",
    handler: send(
      `<!DOCTYPE rss [<!ENTITY a "${"a".repeat(4_000)}">]>${rss(item("q1", "&a;&a;", "&a;".repeat(100_000)), "")}`,
    ),
    // Expansion stops, and the document is refused, at 1,000,000 characters.
    errorClass: "unsafe_xml",
    message: /entity expansion over 1,000,000 characters/,
  },
  {
    name: "gzip bomb",
    tried: "Content-Encoding: gzip, 1 MB on the wire inflating to 1 GiB",
    path: "/bomb.xml",
    handler: (() => {
      let bomb: Buffer | undefined;
      return (req: IncomingMessage, res: ServerResponse) => send((bomb ??= gzipBomb()), "application/rss+xml", { "content-encoding": "gzip" })(req, res);
    })(),
    errorClass: "too_large",
    message: /decoded body exceeds 2097152 bytes/,
  },
  {
    name: "endless body",
    tried: "a 200 whose body never ends (as fast as the socket takes it)",
    path: "/endless.xml",
    handler: (_req, res) => {
      res.writeHead(200, { "content-type": "application/rss+xml" });
      const chunk = Buffer.from(`<item><title>${"x".repeat(16_000)}</title></item>`);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) endlessWritten += chunk.length;
      };
      res.on("drain", pump);
      res.write(rss("").slice(0, -"</channel></rss>".length));
      pump();
    },
    errorClass: "too_large",
    message: /body exceeds 2097152 bytes/,
    check: () => expect(endlessWritten).toBeLessThan(64 * MIB),
  },
  {
    name: "slowloris headers",
    tried: "the status line and headers trickled one byte every 100 ms",
    path: "/slow-headers.xml",
    handler: (req) => {
      const bytes = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nX-Padding: ${"a".repeat(1_000)}`);
      let i = 0;
      const timer = setInterval(() => (i < bytes.length ? req.socket.write(bytes.subarray(i, ++i)) : undefined), 100);
      req.socket.once("close", () => clearInterval(timer));
    },
    errorClass: "timeout",
    message: /timed out after 1500 ms/,
  },
  {
    name: "slowloris body",
    tried: "a 200 whose body comes one byte every 100 ms",
    path: "/slow-body.xml",
    handler: (_req, res) => {
      res.writeHead(200, { "content-type": "application/rss+xml" });
      const body = rss(item("s1", "Slow"));
      let i = 0;
      const timer = setInterval(() => (i < body.length ? res.write(body[i++]!) : undefined), 100);
      res.once("close", () => clearInterval(timer));
    },
    errorClass: "timeout",
    message: /timed out after 1500 ms/,
  },
  {
    name: "redirect loop",
    tried: "/loop-a → /loop-b → /loop-a",
    path: "/loop-a",
    handler: redirectTo("/loop-b"),
    also: { "/loop-b": redirectTo("/loop-a") },
    errorClass: "redirect_loop",
    message: /redirect loop: .*\/loop-b -> .*\/loop-a/,
  },
  ...[
    ["127.0.0.1", () => `http://127.0.0.1:${secretPort}/`, /address 127\.0\.0\.1$/],
    ["169.254.169.254", () => "http://169.254.169.254/latest/meta-data/iam/security-credentials/", /address 169\.254\.169\.254$/],
    // The URL parser writes it ::ffff:7f00:1.
    ["[::ffff:127.0.0.1]", () => `http://[::ffff:127.0.0.1]:${secretPort}/`, /address ::ffff:7f00:1$/],
    ["0.0.0.0", () => `http://0.0.0.0:${secretPort}/`, /address 0\.0\.0\.0$/],
  ].map(([target, url, message]): Case => ({
    name: `redirect to ${target as string}`,
    tried: `a 302 from the allowed ${HOST} to ${target as string} (not in allowPrivate)`,
    path: `/to-${(target as string).replace(/\W/g, "")}`,
    handler: (req, res) => redirectTo((url as () => string)())(req, res),
    errorClass: "blocked_address",
    message: message as RegExp,
    check: () => expect(secretConnections).toBe(0),
  })),
  {
    name: "10 MB title",
    tried: "a title of 10 MiB, with the default FETCH_MAX_BYTES (10 MiB)",
    path: "/title-10m.xml",
    handler: (req, res) => send(rss(item("t1", "T".repeat(10 * MIB))))(req, res),
    limits: DEFAULT_SIZE_LIMITS,
    errorClass: "too_large",
    message: /exceeds 10485760 bytes/,
  },
  {
    name: "9 MB title",
    tried: "a title of 9,000,000 characters, under the default FETCH_MAX_BYTES",
    path: "/title-9m.xml",
    handler: (req, res) => send(rss(item("t9", "T".repeat(9_000_000)) + item("t9b", "Next")))(req, res),
    limits: DEFAULT_SIZE_LIMITS,
    // Normalization caps titles at MAX_TITLE_CHARS; the other items are untouched.
    errorClass: null,
    check: ({ items }) => {
      expect(items.map((i) => i.title.length)).toEqual([MAX_TITLE_CHARS, 4]);
      expect(items[0]!.title.endsWith("T…")).toBe(true);
    },
  },
  {
    name: "invalid UTF-8",
    tried: "a UTF-8 feed with an overlong '<' (C0 BC), FF FE, an encoded surrogate (ED A0 80) and a cut sequence (E2 82)",
    path: "/bad-utf8.xml",
    handler: send(
      Buffer.concat([
        Buffer.from(rss(item("u1", "a@@b")).split("@@")[0]!),
        Buffer.from([0xc0, 0xbc, 0xff, 0xfe, 0xed, 0xa0, 0x80, 0xe2, 0x82]),
        Buffer.from(rss(item("u1", "a@@b")).split("@@")[1]!),
      ]),
      "application/rss+xml; charset=utf-8",
    ),
    // Rule 9: bytes that start no UTF-8 sequence read as windows-1252, never as '<' or U+FFFD.
    errorClass: null,
    check: ({ items }) => {
      expect(items.map((i) => i.title)).toEqual(["aÀ¼ÿþí\u00a0€â‚b"]);
      expect(JSON.stringify(items)).not.toContain("\ufffd");
    },
  },
  {
    name: "binary garbage",
    tried: "64 KiB of bytes 0x80–0xFF (no markup at all) as application/rss+xml",
    path: "/garbage.xml",
    handler: send(Buffer.from(Array.from({ length: 65_536 }, (_, i) => 0x80 + ((i * 37) % 128)))),
    errorClass: "parse",
    message: /no XML element found/,
  },
  {
    name: "NUL bytes in XML",
    tried: "raw NUL bytes inside the title, the body and the guid of an RSS item",
    path: "/nul.xml",
    handler: send(rss(item("n\u00001", "N\u0000U\u0000L", "bo\u0000dy"))),
    // NUL is in no XML document and no text: refused (other stray controls are dropped, rule 10).
    errorClass: "bad_encoding",
    message: /not text: a NUL character \(U\+0000\) at character \d+/,
  },
  {
    name: "NUL in JSON Feed",
    tried: 'a JSON Feed whose feed title, id, title and content hold "\\u0000"',
    path: "/nul.json",
    handler: send(
      JSON.stringify({
        version: "https://jsonfeed.org/version/1.1", title: "Feed\u0000Title",
        items: [{ id: "j\u00001", url: "http://news.test/j1", title: "N\u0000UL", content_text: "bo\u0000dy" }],
      }),
      "application/feed+json",
    ),
    // NUL cannot be stored in Postgres text: removed from every string (before the fix the fetch record failed).
    errorClass: null,
    check: async ({ items, hostile }) => {
      expect(items.map((i) => [i.guid, i.title, i.content])).toEqual([["j1", "NUL", "body"]]);
      expect((await getFeed(t.db, hostile.feedId))!.title).toBe("FeedTitle");
    },
  },
  {
    name: "XML nested 100,000 deep",
    tried: "<rss> then 100,000 nested <x> elements",
    path: "/deep.xml",
    handler: send(`<rss version="2.0">${"<x>".repeat(100_000)}${"</x>".repeat(100_000)}</rss>`),
    errorClass: "parse",
    message: /nested deeper than 256/,
  },
  {
    name: "HTML page",
    tried: "an HTML page (a CMS login screen) where a feed was expected",
    path: "/page.html",
    handler: send(`<!doctype html><html><head><title>Log in</title></head><body><form><input name=u></form></body></html>`, "text/html"),
    errorClass: "parse",
    message: /not a readable feed/,
  },
  {
    name: "JSON Feed with wrong types",
    tried: "a JSON Feed whose title is an object and whose items is an object, not an array",
    path: "/wrong.json",
    handler: send(JSON.stringify({ version: 1.1, title: { t: 1 }, items: { id: "1", title: "x" } }), "application/feed+json"),
    errorClass: "parse",
    message: /invalid JSON feed: no items array/,
  },
  {
    name: "JSON Feed items with wrong types",
    tried: "JSON Feed items whose id is an object, url a number, title an array, date a boolean; plus non-object items",
    path: "/wrong-items.json",
    handler: send(
      JSON.stringify({
        version: "https://jsonfeed.org/version/1.1", title: "J",
        items: [{ id: { a: 1 }, url: 42, title: ["arr"], content_html: { _: "obj" }, date_published: true }, 5, "s", null, { id: "ok", title: "Fine", url: "http://news.test/ok" }],
      }),
      "application/feed+json",
    ),
    // Fields of the wrong type are ignored, never coerced (no link "42" resolved against the feed URL).
    errorClass: null,
    check: ({ items }) => {
      expect(items.map((i) => [i.guid, i.url, i.title, i.publishedAt])).toEqual([
        [null, null, "", null],
        ["ok", "http://news.test/ok", "Fine", null],
      ]);
    },
  },
];

function deps(http: HttpLimits): PollDeps {
  return {
    db: t.db,
    itemsQueue,
    logger: pino({ level: "silent" }),
    http,
    feeds: new FeedLoader(t.db),
    recorder: new FetchRecorder(t.db),
    schedule: { minIntervalMs: 5 * MIN, maxIntervalMs: 24 * 60 * MIN, defaultIntervalMs: 30 * MIN, jitter: 0.1 },
    random: () => 0.5,
  };
}

/** Samples the event loop's longest stall and the peak RSS while `fn` runs. */
async function watched<T>(fn: () => Promise<T>): Promise<{ value: T; stallMs: number; rssGrowth: number }> {
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last - 20);
    last = now;
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const value = await fn();
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last - 20);
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, stallMs, rssGrowth: peak - rss0 };
  } finally {
    clearInterval(timer);
  }
}

const listen = async (srv: Server, host: string): Promise<number> => {
  srv.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  srv.listen(0, host);
  await once(srv, "listening");
  return (srv.address() as AddressInfo).port;
};

beforeAll(async () => {
  t = await createTestDatabase();
  redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: null });
  itemsQueue = new Queue(QUEUES.items, { connection: redis, prefix: queuePrefix(prefix) });
  secretFile = join(tmpdir(), `nf-xxe-${randomBytes(6).toString("hex")}.txt`);
  await writeFile(secretFile, SECRET);
  server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const h = routes.get(path);
    if (h) return h(req, res);
    if (path === "/secret") return send(SECRET, "text/plain")(req, res);
    res.writeHead(404).end();
  });
  origin = `http://${HOST}:${await listen(server, HOST)}`;
  secretServer = createServer((_req, res) => res.end(SECRET));
  secretServer.on("connection", () => secretConnections++);
  secretPort = await listen(secretServer, "127.0.0.1");
  for (const c of CASES) {
    if (c.handler) routes.set(c.path, c.handler);
    for (const [path, h] of Object.entries(c.also ?? {})) routes.set(path, h);
  }
}, 60_000);

afterAll(async () => {
  for (const l of [LIMITS, DEFAULT_SIZE_LIMITS]) await closeHttp(l);
  for (const s of sockets) s.destroy();
  await Promise.all([server, secretServer].map((s) => s && new Promise((r) => s.close(r))));
  await itemsQueue?.obliterate({ force: true }).catch(() => {});
  await itemsQueue?.close();
  const keys = redis ? await redis.keys(`${prefix}*`) : [];
  if (keys.length) await redis.del(...keys);
  await redis?.quit();
  if (secretFile) await rm(secretFile, { force: true });
  await t?.drop();
});

let round = 0;

describe("hostile feeds: each ends classified on its own feed while a healthy feed polls in the same round", { timeout: 120_000 }, () => {
  it.each(CASES)("$name", async (c) => {
    const n = ++round;
    const limits = c.limits ?? LIMITS;
    const healthyPath = `/healthy-${n}.xml`;
    routes.set(healthyPath, send(rss(item(`h${n}-1`, `Healthy ${n} one`) + item(`h${n}-2`, `Healthy ${n} two`))));
    const hostileFeed = (await addFeed(t.db, { url: c.path.startsWith("http") ? c.path : `${origin}${c.path}` })).feed;
    const healthyFeed = (await addFeed(t.db, { url: `${origin}${healthyPath}` })).feed;
    const d = deps(limits);

    const started = performance.now();
    const timed = async (id: number) => {
      const r = await pollFeed(d, id);
      return { r, ms: performance.now() - started };
    };
    const { value, stallMs, rssGrowth } = await watched(() => Promise.all([timed(hostileFeed.id), timed(healthyFeed.id)]));
    const [hostile, healthy] = value;
    const stored = (await getFeed(t.db, hostileFeed.id))!;
    const items = await queuedFor(hostileFeed.id);
    const found = c.errorClass
      ? `${stored.errorClass}: ${stored.lastError}`
      : `${hostile.r.outcome}, ${items.length} item(s): ${JSON.stringify(items.map((i) => i.title.length > 60 ? `${i.title.slice(0, 40)}… (${i.title.length} chars)` : i.title))}`;
    console.log(
      `[hostile] ${c.name}\n  tried: ${c.tried}\n  found: ${found.length > 300 ? `${found.slice(0, 300)}…` : found}` +
        `\n  in ${Math.round(hostile.ms)} ms; healthy feed: ${healthy.r.outcome}, ${healthy.r.newItems ?? 0} new item(s) in ${Math.round(healthy.ms)} ms;` +
        ` longest event-loop stall ${Math.round(stallMs)} ms, RSS +${Math.round(rssGrowth / MIB)} MiB`,
    );

    // The hostile feed: classified on the feed row and in its fetch record, or read safely.
    if (c.errorClass) {
      expect(hostile.r).toMatchObject({ outcome: "error", errorClass: c.errorClass, items: 0 });
      expect(stored).toMatchObject({ state: "active", errorCount: 1, errorClass: c.errorClass });
      if (c.message) expect(stored.lastError).toMatch(c.message);
      expect(items).toEqual([]);
      expect((await recentFetches(t.db, hostileFeed.id))[0]).toMatchObject({ outcome: "error", errorClass: c.errorClass });
    } else {
      expect(hostile.r.outcome).toBe("ok");
      expect(stored).toMatchObject({ state: "active", errorCount: 0, errorClass: null, lastError: null });
    }
    await c.check?.({ hostile: hostile.r, items, ms: hostile.ms });

    // The healthy feed of the same round: its items arrive.
    expect(healthy.r).toMatchObject({ outcome: "ok", newItems: 2 });
    expect((await queuedFor(healthyFeed.id)).map((i) => i.title)).toEqual([`Healthy ${n} one`, `Healthy ${n} two`]);
    expect((await getFeed(t.db, healthyFeed.id))!.errorCount).toBe(0);

    // Bounded: by the total timeout, a responsive event loop, memory independent of the attack's size.
    expect(hostile.ms).toBeLessThan(limits.timeoutMs + SLACK_MS);
    if (c.errorClass === "timeout") expect(healthy.ms).toBeLessThan(hostile.ms);
    expect(stallMs).toBeLessThan(MAX_LOOP_STALL_MS);
    expect(rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
  });
});

/**
 * Hostile text: titles and bodies with quotes, semicolons, `%`, SQL, control
 * characters and ANSI/OSC escape sequences go through the real pipeline
 * (pollFeed from a local publisher, then dedupeBatch into Postgres) and come
 * out of the CLI (`stories`, `stories --json`, `feeds show`, `feeds list`, run
 * as a subprocess). Stored: verbatim, except NUL, which Postgres text cannot
 * hold and which is removed (and, in XML feeds, the characters XML forbids,
 * per the reading rules). Printed: plain output carries no control, escape or
 * bidi character; JSON output escapes them and parses back to the stored text.
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dedupeBatch } from "@newsfeed/dedupe";
import type { ItemPayload } from "@newsfeed/jobs";
import { pollFeed } from "@newsfeed/ingest";
import { addFeed } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";
import { createLogger } from "../src/logger.ts";
import { createRuntime, type Runtime } from "../src/runtime.ts";
import { dropRedisPrefix, testConfig } from "./helpers.ts";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const TSX = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));

/** Each hostile title, as the publisher sends it. */
const TITLES = [
  `'); DROP TABLE items; --`,
  `Quotes "double" 'single'; semicolons; 100% %s %d %n %x %%`,
  `ANSI \u001b[31mred\u001b[0m then \u001b[2J\u001b[H clear screen`,
  `OSC \u001b]8;;http://evil.test/\u0007hyperlink\u001b]8;;\u0007 and \u001b]0;window title\u0007 done`,
  `C1 \u009b31m CSI, DEL\u007f, BEL\u0007, CR\rLF\nTAB\t, backspace\b end`,
  `NUL a\u0000b`,
  `bidi \u202egnp.exe\u202c and a line\u2028separator`,
];
/** What is stored: NUL removed, everything else verbatim. */
const STORED = TITLES.map((s) => s.replace(/\u0000/g, ""));
const FEED_TITLE = `Outlet \u001b[1;31m'; DELETE FROM feeds; -- 50% \u001b]8;;http://x\u0007`;
/** The same kinds of text, in an RSS feed: everything XML can carry. */
const XML_TITLE = `XML: '); DROP TABLE stories; -- "q" 100% %s;`;

/** Any character that could drive a terminal. */
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

/** Distinct bodies, so that every item is a story of its own. */
const body = (i: number, hostile: string) =>
  `${hostile} ${Array.from({ length: 40 }, (_, k) => `w${i}x${k}${"abcdefghij"[(i * 7 + k) % 10]}`).join(" ")}.`;

let t: TestDatabase;
let rt: Runtime;
let server: Server;
let jsonFeedId = 0;
let xmlFeedId = 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function newsfeed(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      [MAIN, ...args],
      {
        env: { ...process.env, DATABASE_URL: t.url, REDIS_URL: rt.config.REDIS_URL, NEWSFEED_REDIS_PREFIX: rt.config.NEWSFEED_REDIS_PREFIX, LOG_LEVEL: "warn" },
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  t = await createTestDatabase();
  rt = createRuntime(testConfig(t.url), createLogger("silent", { pretty: false }));
  const json = JSON.stringify({
    version: "https://jsonfeed.org/version/1.1",
    title: FEED_TITLE,
    items: TITLES.map((title, i) => ({
      id: `hostile-${i}`, url: `http://news.test/${i}`, title, content_text: body(i, title), date_published: new Date().toISOString(),
    })),
  });
  const xml = `<?xml version="1.0"?><rss version="2.0"><channel><title>XML outlet</title><item><guid>x1</guid><title>${XML_TITLE}</title>` +
    `<description>${body(99, XML_TITLE)}</description></item></channel></rss>`;
  server = createServer((req, res) => {
    res.writeHead(200, { "content-type": req.url === "/feed.json" ? "application/feed+json" : "application/rss+xml" });
    res.end(req.url === "/feed.json" ? json : xml);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  jsonFeedId = (await addFeed(t.db, { url: `${origin}/feed.json` })).feed.id;
  xmlFeedId = (await addFeed(t.db, { url: `${origin}/feed.xml` })).feed.id;

  // The real pipeline: the poll queues the items, the dedupe stage stores them.
  for (const id of [jsonFeedId, xmlFeedId]) {
    const res = await pollFeed(rt.pollDeps, id, { force: true });
    expect(res).toMatchObject({ outcome: "ok" });
  }
  const jobs = await rt.itemsQueue.getJobs(["waiting"]);
  const items = jobs.flatMap((j) => (j.data as { items: ItemPayload[] }).items);
  expect(items).toHaveLength(TITLES.length + 1);
  await dedupeBatch(rt.dedupeDeps, items);
}, 120_000);

afterAll(async () => {
  await rt?.close();
  if (rt) await dropRedisPrefix(rt.config);
  if (server) await new Promise((r) => server.close(r));
  await t?.drop();
});

describe("hostile text is stored verbatim and printed safely", { timeout: 120_000 }, () => {
  it("stores every title verbatim (NUL removed) and the bodies' quotes, semicolons and percent signs", async () => {
    const { rows } = await t.pool.query<{ feed_id: string; title: string; text: string }>(
      `SELECT feed_id::text, title, text FROM items ORDER BY id`,
    );
    const jsonRows = rows.filter((r) => Number(r.feed_id) === jsonFeedId);
    expect(jsonRows.map((r) => r.title)).toEqual(STORED);
    expect(rows.filter((r) => Number(r.feed_id) === xmlFeedId).map((r) => r.title)).toEqual([XML_TITLE]);
    for (const r of rows) expect(r.text).not.toContain("\u0000");
    expect(jsonRows[0]!.text).toContain(`'); DROP TABLE items; --`);
    expect(jsonRows[1]!.text).toContain(`"double" 'single'; semicolons; 100% %s %d`);
    const { rows: feeds } = await t.pool.query<{ title: string }>(`SELECT title FROM feeds WHERE id = $1`, [jsonFeedId]);
    expect(feeds[0]!.title).toBe(FEED_TITLE);
    const { rows: tables } = await t.pool.query(`SELECT count(*)::int AS n FROM stories`);
    expect(tables[0].n).toBe(TITLES.length + 1); // the SQL in the text did nothing; every item is a story
    console.log(`[hostile text] stored ${rows.length} items; titles verbatim: ${JSON.stringify(rows.map((r) => r.title))}`);
  });

  it("`stories` prints no control, escape or bidi character, and keeps the visible text", async () => {
    const r = await newsfeed(["stories", "--limit", "50"]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(CONTROLS);
    for (const visible of [`'); DROP TABLE items; --`, `100% %s %d %n %x %%`, "[31mred [0m", "]8;;http://evil.test/ hyperlink", "NUL ab", XML_TITLE]) {
      expect(r.stdout).toContain(visible);
    }
    console.log(`[hostile text] stories (plain), tried ${TITLES.length + 1} hostile titles, found:\n${r.stdout}`);
  });

  it("`stories --json` escapes them and parses back to the stored titles", async () => {
    const r = await newsfeed(["stories", "--json", "--limit", "50"]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(CONTROLS);
    const titles = (JSON.parse(r.stdout) as { title: string }[]).map((s) => s.title);
    expect(titles.sort()).toEqual([...STORED, XML_TITLE].sort());
    console.log(`[hostile text] stories --json: ${titles.length} titles, raw output free of control characters, parsed back verbatim`);
  });

  it("`feeds show` and `feeds list` print the feed's hostile title safely; --json round-trips it", async () => {
    for (const args of [["feeds", "show", String(jsonFeedId)], ["feeds", "list"]]) {
      const r = await newsfeed(args);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(CONTROLS);
      expect(r.stdout).toContain("[1;31m'; DELETE FROM feeds;");
      console.log(`[hostile text] ${args.join(" ")}:\n${r.stdout}`);
    }
    const shown = await newsfeed(["feeds", "show", String(jsonFeedId), "--json"]);
    expect(shown.stdout).not.toMatch(CONTROLS);
    expect((JSON.parse(shown.stdout) as { feed: { title: string } }).feed.title).toBe(FEED_TITLE);
    const listed = await newsfeed(["feeds", "list", "--json"]);
    expect(listed.stdout).not.toMatch(CONTROLS);
    expect((JSON.parse(listed.stdout) as { title: string }[]).map((f) => f.title)).toContain(FEED_TITLE);
  });
});

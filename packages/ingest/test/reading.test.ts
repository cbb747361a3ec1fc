/**
 * Reading feeds end to end, as the worker does: conditionalGet from a local
 * server playing misbehaving publishers, then decodeBody → parseFeed →
 * normalizeItems. One test (at least) per rule of docs/ingest.md ("Reading
 * feeds"): formats (8), encodings (9), malformed and hostile input (10), links
 * and dates (11).
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import iconv from "iconv-lite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ItemPayload } from "@newsfeed/jobs";
import { IngestError } from "../src/errors.ts";
import { closeHttp, conditionalGet, type HttpLimits } from "../src/http/get.ts";
import { normalizeItems } from "../src/normalize.ts";
import { decodeBody } from "../src/parse/decode.ts";
import { parseFeed, type ParsedFeed } from "../src/parse/parse-feed.ts";

const SEEN_AT = new Date("2026-11-27T12:00:00Z");
const limits: HttpLimits = { timeoutMs: 5_000, maxBytes: 1 << 20, userAgent: "newsfeed-test/1.0", allowPrivate: ["127.0.0.1"] };

interface Route { type: string | null; body: Buffer }
const routes = new Map<string, Route>();
const requests = new Map<string, number>();
const hits = (path: string) => requests.get(path) ?? 0;
const route = (path: string, type: string | null, body: string | Buffer) =>
  routes.set(path, { type, body: typeof body === "string" ? Buffer.from(body) : body });

let server: Server;
let origin = "";
beforeAll(async () => {
  server = createServer((req, res) => {
    requests.set(req.url ?? "", hits(req.url ?? "") + 1);
    const r = routes.get(req.url ?? "");
    if (!r) return res.writeHead(404).end();
    res.writeHead(200, r.type ? { "content-type": r.type } : {});
    res.end(r.body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await closeHttp(limits);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** Fetches `path` and reads it exactly as the poller does. */
async function read(path: string): Promise<{ feed: ParsedFeed; items: ItemPayload[]; url: string }> {
  const res = await conditionalGet(`${origin}${path}`, {}, limits);
  expect(res.status).toBe(200);
  const feed = await parseFeed(decodeBody(res.body, res.headers.get("content-type")));
  return { feed, items: normalizeItems(feed, { feedId: 1, feedUrl: res.url, seenAt: SEEN_AT }), url: res.url };
}
async function readError(path: string): Promise<IngestError> {
  const err = await read(path).then(
    () => new Error("expected a parse error"),
    (e: unknown) => e,
  );
  if (!(err instanceof IngestError)) throw err;
  return err;
}

const RUSSIAN = "Цитата дня: как пережить новогоднюю ночь";
const FRENCH = "Café crème à l’école – 5 €";
const rss = (items: string, head = '<?xml version="1.0"?>', channel = "<title>Wire</title>") =>
  `${head}<rss version="2.0"><channel>${channel}${items}</channel></rss>`;
const rssItem = (title: string, link = "http://news.example/1") => `<item><title>${title}</title><link>${link}</link></item>`;

describe("formats (rule 8)", () => {
  it.each([
    { name: "RSS 2.0", path: "/f/rss2", type: "application/rss+xml", body: rss(rssItem("Two") + rssItem("Three")), titles: ["Two", "Three"] },
    { name: "RSS 0.91", path: "/f/rss091", type: "text/xml", body: `<rss version="0.91"><channel><title>W</title>${rssItem("Old")}</channel></rss>`, titles: ["Old"] },
    { name: "RSS 1.0", path: "/f/rss1", type: "application/rdf+xml", body: `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>W</title></channel>${rssItem("Rdf")}</rdf:RDF>`, titles: ["Rdf"] },
    { name: "Atom 1.0", path: "/f/atom1", type: "application/atom+xml", body: `<feed xmlns="http://www.w3.org/2005/Atom"><title>W</title><entry><title>A1</title><link href="http://news.example/a"/><id>x</id></entry></feed>`, titles: ["A1"] },
    { name: "Atom 0.3", path: "/f/atom03", type: "application/atom+xml", body: `<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>W</title><entry><title>A03</title><link rel="alternate" type="text/html" href="http://news.example/b"/></entry></feed>`, titles: ["A03"] },
    { name: "<rss> without a version", path: "/f/noversion", type: "text/xml", body: `<rss><channel><title>W</title>${rssItem("Versionless")}</channel></rss>`, titles: ["Versionless"] },
    { name: "<rss> without a <channel>", path: "/f/nochannel", type: "text/xml", body: `<rss version="2.0"><title>W</title>${rssItem("Bare one")}${rssItem("Bare two")}</rss>`, titles: ["Bare one", "Bare two"] },
    { name: "an Atom xhtml title", path: "/f/xhtml", type: "application/atom+xml", body: `<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Breaking: <em>rates</em> cut</div></title></entry></feed>`, titles: ["Breaking: rates cut"] },
    {
      name: "JSON Feed 1.1", path: "/f/json11", type: "application/feed+json",
      body: JSON.stringify({ version: "https://jsonfeed.org/version/1.1", title: "J", home_page_url: "http://news.example/", items: [{ id: "j1", url: "http://news.example/j1", title: "Jay", content_html: "<p>x</p>", date_published: "2026-11-26T09:00:00Z", authors: [{ name: "A" }] }] }),
      titles: ["Jay"],
    },
    {
      name: "JSON Feed 1.0", path: "/f/json10", type: "application/json",
      body: JSON.stringify({ version: "https://jsonfeed.org/version/1", title: "J", items: [{ id: 7, external_url: "http://news.example/ext", title: "Ten", content_text: "t" }] }),
      titles: ["Ten"],
    },
  ])("reads $name", async ({ path, type, body, titles }) => {
    route(path, type, body);
    const { items } = await read(path);
    expect(items.map((i) => i.title)).toEqual(titles);
  });
});

describe("encodings (rule 9)", () => {
  it.each([
    { name: "windows-1251 named only by HTTP", path: "/e/1251-http", type: "text/xml; charset=windows-1251", body: iconv.encode(rss(rssItem(RUSSIAN), '<?xml version="1.0"?>'), "windows-1251"), title: RUSSIAN },
    { name: "windows-1251 named only by the XML declaration", path: "/e/1251-xml", type: "application/rss+xml", body: iconv.encode(rss(rssItem(RUSSIAN), '<?xml version="1.0" encoding="windows-1251"?>'), "windows-1251"), title: RUSSIAN },
    { name: "a wrong HTTP charset (UTF-8) over a correct declaration", path: "/e/wrong-http", type: "text/xml; charset=utf-8", body: iconv.encode(rss(rssItem(RUSSIAN), '<?xml version="1.0" encoding="windows-1251"?>'), "windows-1251"), title: RUSSIAN },
    { name: "ISO-8859-1 read as windows-1252 (€ and curly quote)", path: "/e/latin1", type: "text/xml; charset=ISO-8859-1", body: iconv.encode(rss(rssItem(FRENCH)), "windows-1252"), title: FRENCH },
    { name: "undeclared Latin-1 (no charset anywhere)", path: "/e/undeclared", type: "text/xml", body: iconv.encode(rss(rssItem(FRENCH)), "windows-1252"), title: FRENCH },
    { name: "Latin-1 declared as UTF-8", path: "/e/lying-utf8", type: null, body: iconv.encode(rss(rssItem(FRENCH), '<?xml version="1.0" encoding="UTF-8"?>'), "windows-1252"), title: FRENCH },
    { name: "undeclared windows-1251", path: "/e/undeclared-1251", type: "text/xml", body: iconv.encode(rss(rssItem(RUSSIAN)), "windows-1251"), title: RUSSIAN },
    { name: "UTF-16 with a BOM", path: "/e/utf16", type: "text/xml", body: Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(rss(rssItem(RUSSIAN), '<?xml version="1.0" encoding="UTF-16"?>'), "utf-16le")]), title: RUSSIAN },
  ])("$name", async ({ path, type, body, title }) => {
    route(path, type, body);
    const { items } = await read(path);
    expect(items[0]!.title).toBe(title);
    expect(JSON.stringify(items)).not.toContain("\ufffd");
  });
});

describe("malformed but recoverable (rule 10)", () => {
  it.each([
    { name: "whitespace before <?xml", path: "/m/ws", body: `\n\n   ${rss(rssItem("Spaced"))}`, titles: ["Spaced"] },
    { name: "a bare &", path: "/m/amp", body: rss(rssItem("Q&A: rates & bonds", "http://news.example/?a=1&b=2")), titles: ["Q&A: rates & bonds"] },
    { name: "HTML entities", path: "/m/entities", body: rss(rssItem("Caf&eacute;&nbsp;&mdash; d&eacute;j&agrave; vu&hellip;")), titles: ["Café\u00a0— déjà vu…"] },
    { name: "invalid XML characters", path: "/m/invalid", body: rss(rssItem("Con\u0001trol\u0008 chars")), titles: ["Control chars"] },
    { name: "a truncated tail", path: "/m/truncated", body: rss(rssItem("Whole one") + rssItem("Whole two")).replace("</channel></rss>", "") + "<item><title>Half</tit", titles: ["Whole one", "Whole two"] },
  ])("yields the good items of $name", async ({ path, body, titles }) => {
    route(path, "application/rss+xml", body);
    const { items } = await read(path);
    expect(items.map((i) => i.title)).toEqual(titles);
  });

  it("keeps the bare & of a link", async () => {
    route("/m/amp-link", "text/xml", rss(rssItem("x", "http://news.example/?a=1&b=2&c")));
    expect((await read("/m/amp-link")).items[0]!.url).toBe("http://news.example/?a=1&b=2&c");
  });

  it.each([
    ["an HTML page", "/h/html", "text/html", "<!doctype html><html><body><p>Not here</p></body></html>"],
    ["an empty body", "/h/empty", "text/xml", ""],
    ["nesting deeper than any feed", "/h/deep", "text/xml", `<rss>${"<x>".repeat(100_000)}</rss>`],
  ])("classifies %s as a parse error", async (_name, path, type, body) => {
    route(path, type, body);
    const err = await readError(path);
    expect(err.code).toBe("parse");
  });

  it("refuses an entity bomb with an external entity as unsafe_xml, reading nothing", async () => {
    const dtd = `<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY xxe SYSTEM "${origin}/h/secret">]>`;
    route("/h/secret", "text/plain", "TOP SECRET");
    route("/h/bomb", "text/xml", dtd + rss(rssItem("&lol2; &xxe;")).replace('<?xml version="1.0"?>', ""));
    const err = await readError("/h/bomb");
    expect(err.code).toBe("unsafe_xml");
    expect(hits("/h/secret")).toBe(0);
  });
});

describe("links and dates (rule 11)", () => {
  it("resolves relative links against xml:base, then the feed URL (not the channel's link)", async () => {
    route(
      "/l/atom/feed.xml",
      "application/atom+xml",
      `<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://site.example/blog/">
        <entry xml:base="2026/"><title>based</title><link href="post-1.html"/></entry>
        <entry><title>inherited</title><link href="../about"/></entry>
      </feed>`,
    );
    route("/l/rss/feed.xml", "application/rss+xml", rss(rssItem("site-relative", "/news/1"), '<?xml version="1.0"?>', "<link>http://site.example/home/</link>"));
    route("/l/bare/feed.xml", "application/rss+xml", rss(rssItem("doc-relative", "items/2")));
    const atom = await read("/l/atom/feed.xml");
    expect(atom.items.map((i) => i.url)).toEqual(["http://site.example/blog/2026/post-1.html", "http://site.example/about"]);
    expect((await read("/l/rss/feed.xml")).items[0]!.url).toBe(`${origin}/news/1`);
    expect((await read("/l/bare/feed.xml")).items[0]!.url).toBe(`${origin}/l/bare/items/2`);
  });

  it("reads dates robustly: zone-less as UTC, unreadable and missing as null, the far future clamped", async () => {
    const dated = (date: string) => `<item><title>${date || "none"}</title>${date ? `<pubDate>${date}</pubDate>` : ""}</item>`;
    route(
      "/d/rss",
      "application/rss+xml",
      rss(
        dated("Thu, 26 Nov 2026 07:15:00 GMT") + dated("Thu, 26 Nov 26 07:15:00 -0500") + dated("Thu, 26 Nov 2026 07:15:00") +
          dated("2026-11-26T07:15:00") + dated("sometime soon") + dated("") + dated("Fri, 01 Jan 2100 00:00:00 GMT"),
      ),
    );
    const { items } = await read("/d/rss");
    expect(items.map((i) => i.publishedAt)).toEqual([
      "2026-11-26T07:15:00.000Z",
      "2026-11-26T12:15:00.000Z",
      "2026-11-26T07:15:00.000Z",
      "2026-11-26T07:15:00.000Z",
      null,
      null,
      SEEN_AT.toISOString(),
    ]);
  });

  it("reads an Atom entry whose date is garbage instead of rejecting the feed", async () => {
    route("/d/atom", "application/atom+xml", `<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>ok</title><updated>not a date</updated></entry><entry><title>ok2</title><published>2026-11-26T08:00:00+01:00</published></entry></feed>`);
    const { items } = await read("/d/atom");
    expect(items.map((i) => [i.title, i.publishedAt])).toEqual([["ok", null], ["ok2", "2026-11-26T07:00:00.000Z"]]);
  });
});

describe("rule 11: identity, repeated guids, content hash, canonical URL", () => {
  it("keys items by guid, then canonical link, then a hash; tells repeated guids apart; strips tracking parameters", async () => {
    const items = [
      `<item><guid>g-1</guid><title>By guid</title><link>http://news.example/a?utm_source=x&amp;id=7</link><description>one</description></item>`,
      `<item><title>By link</title><link>http://news.example/b?fbclid=zz&amp;utm_medium=rss</link><description>two</description></item>`,
      `<item><title>By hash</title><description>three</description></item>`,
      `<item><guid>dup</guid><title>First of two</title><description>four</description></item>`,
      `<item><guid>dup</guid><title>Second of two</title><description>five</description></item>`,
    ];
    route("/ident/feed.xml", "application/rss+xml", rss(items.join("")));
    const first = (await read("/ident/feed.xml")).items;
    expect(first.map((i) => i.identityKey.replace(/^(hash:).*/, "$1…"))).toEqual([
      "guid:g-1", "url:http://news.example/b", "hash:…", "guid:dup", "guid:dup#2",
    ]);
    // The canonical URL drops tracking parameters and keeps the rest; the link itself is kept as given.
    expect(first[0]!.canonicalUrl).toBe("http://news.example/a?id=7");
    expect(first[0]!.url).toBe("http://news.example/a?utm_source=x&id=7");
    expect(first[1]!.canonicalUrl).toBe("http://news.example/b");
    // An edited item keeps its identity and gets a new content hash: an update.
    route("/ident/feed.xml", "application/rss+xml", rss(items.join("").replace("<description>one</description>", "<description>one, corrected</description>")));
    const second = (await read("/ident/feed.xml")).items;
    expect(second[0]!.identityKey).toBe(first[0]!.identityKey);
    expect(second[0]!.contentHash).not.toBe(first[0]!.contentHash);
    expect(second.slice(1).map((i) => i.contentHash)).toEqual(first.slice(1).map((i) => i.contentHash));
  });
});

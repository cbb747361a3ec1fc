import { describe, expect, it } from "vitest";
import { IngestError } from "../errors.ts";
import { parseFeed } from "./parse-feed.ts";

const RSS = `<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>R</title><link>https://r.example/</link>
<item><title>One</title><link>https://r.example/1</link><guid>g1</guid><pubDate>Thu, 26 Nov 2026 07:15:00 GMT</pubDate>
<description>short</description><content:encoded><![CDATA[<p>full body</p>]]></content:encoded></item></channel></rss>`;
const ATOM = `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><link href="https://a.example/"/>
<entry><title>Two</title><link href="https://a.example/2"/><id>tag:a,2026:2</id><updated>2026-11-26T08:00:00Z</updated><summary>sum</summary></entry></feed>`;
const RDF = `<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://d.example/"><title>D</title><link>https://d.example/</link></channel>
<item rdf:about="https://d.example/3"><title>Three</title><link>https://d.example/3</link><description>body three</description></item></rdf:RDF>`;
const JSONFEED = JSON.stringify({
  version: "https://jsonfeed.org/version/1.1", title: "J", home_page_url: "https://j.example/",
  items: [{ id: "4", url: "https://j.example/4", title: "Four", content_html: "<p>four</p>", date_published: "2026-11-26T09:00:00Z" }],
});

describe("parseFeed", () => {
  it.each([
    { name: "RSS 2.0", text: RSS, want: { title: "R", guid: "g1", link: "https://r.example/1", itemTitle: "One", content: "<p>full body</p>" } },
    { name: "Atom 1.0", text: ATOM, want: { title: "A", guid: "tag:a,2026:2", link: "https://a.example/2", itemTitle: "Two", content: "sum" } },
    { name: "RSS 1.0 (RDF)", text: RDF, want: { title: "D", guid: null, link: "https://d.example/3", itemTitle: "Three", content: "body three" } },
    { name: "JSON Feed 1.1", text: JSONFEED, want: { title: "J", guid: "4", link: "https://j.example/4", itemTitle: "Four", content: "<p>four</p>" } },
  ])("reads $name", async ({ text, want }) => {
    const feed = await parseFeed(text);
    expect(feed.title).toBe(want.title);
    expect(feed.items).toHaveLength(1);
    const it0 = feed.items[0]!;
    expect({ guid: it0.guid, link: it0.link, itemTitle: it0.title, content: it0.content }).toEqual({
      guid: want.guid, link: want.link, itemTitle: want.itemTitle, content: want.content,
    });
  });
  it.each([
    ["an HTML page", "<html><body>nope</body></html>"],
    ["broken JSON", "{ items: "],
    ["JSON without items", '{"version":"x"}'],
  ])("classifies %s as a parse error", async (_name, text) => {
    await expect(parseFeed(text)).rejects.toSatisfy((e) => e instanceof IngestError && e.code === "parse");
  });
});

const item = async (text: string, k = 0) => (await parseFeed(text)).items[k]!;

describe("parseFeed: formats", () => {
  it.each([
    {
      name: "RSS 0.91",
      text: `<rss version="0.91"><channel><title>F</title><item><title>One</title><link>http://x/1</link></item></channel></rss>`,
      want: { feed: "F", count: 1, title: "One", link: "http://x/1" },
    },
    {
      name: "RSS 0.92",
      text: `<rss version="0.92"><channel><title>F</title><item><title>One</title><description>d</description></item></channel></rss>`,
      want: { feed: "F", count: 1, title: "One", link: null },
    },
    {
      name: "RSS 0.90 (RDF)",
      text: `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/"><channel><title>F</title></channel><item><title>One</title><link>http://x/1</link></item></rdf:RDF>`,
      want: { feed: "F", count: 1, title: "One", link: "http://x/1" },
    },
    {
      name: "<rss> without a version",
      text: `<rss><channel><title>F</title><item><title>One</title></item></channel></rss>`,
      want: { feed: "F", count: 1, title: "One", link: null },
    },
    {
      name: "<rss> without a <channel>",
      text: `<rss version="2.0"><title>F</title><item><title>One</title></item><item><title>Two</title></item></rss>`,
      want: { feed: "F", count: 2, title: "One", link: null },
    },
    {
      name: "RDF without a <channel>",
      text: `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><item><title>One</title></item></rdf:RDF>`,
      want: { feed: null, count: 1, title: "One", link: null },
    },
    {
      name: "Atom 0.3",
      text: `<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>F</title><entry><title>One</title><link rel="alternate" type="text/html" href="http://x/1"/><issued>2026-11-26T07:15:00Z</issued></entry></feed>`,
      want: { feed: "F", count: 1, title: "One", link: "http://x/1" },
    },
    {
      name: "Atom xhtml titles",
      text: `<feed xmlns="http://www.w3.org/2005/Atom"><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">The <b>F</b></div></title><entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Example <a href="t">test</a></div></title></entry></feed>`,
      want: { feed: "The F", count: 1, title: "Example test", link: null },
    },
    {
      name: "JSON Feed 1.0",
      text: JSON.stringify({ version: "https://jsonfeed.org/version/1", title: "F", items: [{ id: 1, external_url: "http://x/1", title: "One" }] }),
      want: { feed: "F", count: 1, title: "One", link: "http://x/1" },
    },
    {
      name: "RSS-in-JSON",
      text: JSON.stringify({ rss: { version: "2.0", channel: { title: "F", item: [{ title: "One", link: "http://x/1", guid: "g" }] } } }),
      want: { feed: "F", count: 1, title: "One", link: "http://x/1" },
    },
  ])("reads $name", async ({ text, want }) => {
    const feed = await parseFeed(text);
    expect({ feed: feed.title, count: feed.items.length, title: feed.items[0]?.title, link: feed.items[0]?.link ?? null }).toEqual(want);
  });
});

describe("parseFeed: items", () => {
  it("reads raw date text, never rss-parser's host-zone reading", async () => {
    expect((await item(RSS)).date).toBe("Thu, 26 Nov 2026 07:15:00 GMT");
    expect((await item(ATOM)).date).toBe("2026-11-26T08:00:00Z");
    const dc = `<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><item><dc:date>2026-11-26T07:15:00</dc:date></item></channel></rss>`;
    expect((await item(dc)).date).toBe("2026-11-26T07:15:00");
  });
  it("keeps a feed whose Atom date is garbage (rss-parser alone rejects it)", async () => {
    const text = ATOM.replace("2026-11-26T08:00:00Z", "last Tuesday-ish");
    expect((await item(text)).date).toBe("last Tuesday-ish");
  });
  it("prefers Atom published over updated", async () => {
    const text = ATOM.replace("<updated>", "<published>2026-11-20T00:00:00Z</published><updated>");
    expect((await item(text)).date).toBe("2026-11-20T00:00:00Z");
  });
  it("picks the alternate HTML link among Atom links", async () => {
    const links = `<link rel="replies" href="http://x/c"/><link rel="alternate" type="application/xhtml+xml" href="http://x/x"/><link href="http://x/h" type="text/html"/>`;
    const text = `<feed xmlns="http://www.w3.org/2005/Atom"><entry>${links}</entry></feed>`;
    expect((await item(text)).link).toBe("http://x/h");
  });
  it("reads an Atom link written as text", async () => {
    expect((await item(`<feed xmlns="http://www.w3.org/2005/Atom"><entry><link>http://x/1</link></entry></feed>`)).link).toBe("http://x/1");
  });
  it("uses a permalink guid as the link, never one marked isPermaLink=false", async () => {
    const g = (attr: string) => `<rss version="2.0"><channel><item><guid${attr}>http://x/g</guid></item></channel></rss>`;
    expect((await item(g(""))).link).toBe("http://x/g");
    expect((await item(g(' isPermaLink="false"'))).link).toBeNull();
  });
  it("carries the xml:base in scope for the feed and each item", async () => {
    const text = `<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://x/a/"><entry xml:base="b/"><link href="1"/></entry><entry><link href="2"/></entry></feed>`;
    const feed = await parseFeed(text);
    expect(feed.base).toBe("http://x/a/");
    expect(feed.items.map((i) => [i.base, i.link])).toEqual([["http://x/a/b/", "1"], ["http://x/a/", "2"]]);
  });
  it("keeps Atom xhtml content as markup, in order", async () => {
    const text = `<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">a <b>b</b> c</div></content></entry></feed>`;
    expect((await item(text)).content).toBe(`<div xmlns="http://www.w3.org/1999/xhtml">a <b>b</b> c</div>`);
  });
});

describe("parseFeed: malformed but recoverable", () => {
  it.each([
    { name: "whitespace before <?xml", text: `\n  \t${RSS}`, count: 1, title: "One" },
    { name: "a bare &", text: RSS.replace("<title>One</title>", "<title>Q&A</title>"), count: 1, title: "Q&A" },
    { name: "HTML entities", text: RSS.replace("<title>One</title>", "<title>caf&eacute;&nbsp;&mdash;&hellip;</title>"), count: 1, title: "café\u00a0—…" },
    { name: "an unknown entity", text: RSS.replace("<title>One</title>", "<title>&bogus; x</title>"), count: 1, title: "&bogus; x" },
    { name: "invalid XML characters", text: RSS.replace("<title>One</title>", "<title>O\u0001n\u000Be</title>"), count: 1, title: "One" },
    { name: "a truncated tail", text: `${RSS.replace("</channel></rss>", "")}<item><title>Two</title><link>https://r.exa`, count: 1, title: "One" },
    { name: "a missing end of document", text: RSS.replace("</channel></rss>", ""), count: 1, title: "One" },
    { name: "an internal DTD entity", text: `<!DOCTYPE rss [<!ENTITY who "AT&#38;T">]>${RSS.replace("<title>One</title>", "<title>&who;</title>")}`, count: 1, title: "AT&T" },
  ])("$name", async ({ text, count, title }) => {
    const feed = await parseFeed(text);
    expect(feed.items).toHaveLength(count);
    expect(feed.items[0]!.title).toBe(title);
  });

  it("keeps the complete items of a truncated JSON feed", async () => {
    const full = JSON.stringify({ version: "https://jsonfeed.org/version/1.1", title: "J", items: [1, 2, 3].map((n) => ({ id: `${n}`, title: `T${n}`, tags: ["a"] })) });
    const cut = full.slice(0, full.indexOf('"T3"') + 2);
    expect((await parseFeed(cut)).items.map((i) => i.title)).toEqual(["T1", "T2"]);
    expect((await parseFeed(full.slice(0, full.indexOf('"tags"') + 9))).items).toEqual([]);
  });

  it("reads a JSON feed with raw control characters in its strings", async () => {
    const text = `{"version":"https://jsonfeed.org/version/1","items":[{"id":"1","title":"line\nbreak\ttab"}]}`; // raw LF and TAB
    expect((await item(text)).title).toBe("line\nbreak\ttab");
  });

  it.each([
    ["an empty body", ""],
    ["plain text", "hello"],
    ["an OPML file", `<opml version="1.0"><body><outline text="x"/></body></opml>`],
    ["nesting deeper than any feed", `<rss>${"<a>".repeat(10_000)}</rss>`],
  ])("classifies %s as a parse error", async (_name, text) => {
    await expect(parseFeed(text)).rejects.toSatisfy((e) => e instanceof IngestError && e.code === "parse");
  });

  it.each([
    ["an external entity", `<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/hostname">]>`, "&x;"],
    ["an entity bomb", `<!DOCTYPE rss [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;">]>`, "&b;"],
  ])("refuses %s as unsafe_xml", async (_name, doctype, ref) => {
    const text = doctype + RSS.replace("<title>One</title>", `<title>${ref}</title>`);
    await expect(parseFeed(text)).rejects.toSatisfy((e) => e instanceof IngestError && e.code === "unsafe_xml");
  });
});

describe("parseFeed: hostile JSON Feed values", () => {
  it("ignores fields of the wrong type instead of coercing them", async () => {
    const text = JSON.stringify({
      version: "https://jsonfeed.org/version/1.1", title: { x: 1 }, home_page_url: 7,
      items: [
        { id: { x: 1 }, url: 42, title: ["arr"], content_html: { _: "obj" }, date_published: true },
        { id: 5, url: "http://x/5", title: "Five", content_text: false, summary: "sum" },
        5, "s", null, [1],
      ],
    });
    const feed = await parseFeed(text);
    expect(feed.title).toBeNull();
    expect(feed.link).toBeNull();
    expect(feed.items).toEqual([
      { guid: null, link: null, title: "", content: "", date: null },
      { guid: "5", link: "http://x/5", title: "Five", content: "sum", date: null },
    ]);
  });
  it.each([
    ["items that is a string", { version: "https://jsonfeed.org/version/1.1", items: "x" }],
    ["items that is an object", { version: "https://jsonfeed.org/version/1.1", items: { id: "1" } }],
    ["a root that is an array", [{ id: "1" }]],
  ])("classifies %s as a parse error", async (_name, doc) => {
    await expect(parseFeed(JSON.stringify(doc))).rejects.toSatisfy((e) => e instanceof IngestError && e.code === "parse");
  });
  it.each([
    ["in an RSS title", RSS.replace("<title>One</title>", "<title>O\u0000ne</title>"), "bad_encoding"],
    ["after an RSS document (padding)", `${RSS}\u0000\u0000`, "bad_encoding"],
    ["in a JSON Feed's raw text (invalid JSON)", `{"version": "https://jsonfeed.org/version/1.1", "items": []}\u0000`, "parse"],
  ])("refuses a raw NUL %s", async (_name, text, code) => {
    await expect(parseFeed(text)).rejects.toSatisfy((e) => e instanceof IngestError && e.code === code);
  });
  it("removes NUL, which Postgres text cannot hold, and keeps every other control character", async () => {
    const text = JSON.stringify({
      version: "https://jsonfeed.org/version/1.1", title: "F\u0000eed",
      items: [{ id: "a\u0000b", url: "http://x/\u00001", title: "x\u0000y\u001b[31mz\u0007", content_text: "c\u0000\u0001" }],
    });
    const feed = await parseFeed(text);
    expect(feed.title).toBe("Feed");
    expect(feed.items[0]).toMatchObject({ guid: "ab", link: "http://x/1", title: "xy\u001b[31mz\u0007", content: "c\u0001" });
  });
});

import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { IngestError } from "../errors.ts";
import { decodeBody } from "./decode.ts";
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

describe("decodeBody", () => {
  const text = "Café – naïve";
  it.each([
    { name: "UTF-8 without a declaration", body: Buffer.from(text), ct: null },
    { name: "UTF-8 with a BOM", body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), ct: null },
    { name: "windows-1252 by HTTP charset", body: iconv.encode(text, "windows-1252"), ct: "text/xml; charset=windows-1252" },
    { name: "ISO-8859-1 read as windows-1252", body: iconv.encode(text, "windows-1252"), ct: "text/xml; charset=ISO-8859-1" },
    {
      name: "windows-1252 by XML declaration",
      body: Buffer.concat([Buffer.from('<?xml version="1.0" encoding="windows-1252"?>'), iconv.encode(text, "windows-1252")]),
      ct: "application/xml",
    },
  ])("$name", ({ body, ct }) => {
    expect(decodeBody(body, ct)).toContain(text);
  });
});

import { describe, expect, it } from "vitest";
import { canonicalizeUrl, capTitle, identityOf, MAX_TITLE_CHARS, normalizeItems, parseDate, resolveUrl } from "./normalize.ts";
import type { ParsedFeed, RawItem } from "./parse/parse-feed.ts";

const raw = (over: Partial<RawItem>): RawItem => ({ guid: null, link: null, title: "T", content: "C", date: null, ...over });
const now = new Date("2026-11-27T12:00:00Z");

describe("identityOf", () => {
  it.each([
    { name: "guid first", item: raw({ guid: "g1", link: "https://a/x" }), canon: "https://a/x", want: "guid:g1" },
    { name: "canonical link when no guid", item: raw({ link: "https://a/x?utm_source=rss" }), canon: "https://a/x", want: "url:https://a/x" },
    { name: "hash of title + content otherwise", item: raw({}), canon: null, want: /^hash:[0-9a-f]{32}$/ },
  ])("$name", ({ item, canon, want }) => {
    const id = identityOf(item, canon);
    if (typeof want === "string") expect(id).toBe(want);
    else expect(id).toMatch(want);
  });
  it("hashes differ when title or content differ", () => {
    expect(identityOf(raw({ title: "a" }), null)).not.toBe(identityOf(raw({ title: "b" }), null));
    expect(identityOf(raw({ content: "a" }), null)).not.toBe(identityOf(raw({ content: "b" }), null));
  });
});

describe("canonicalizeUrl", () => {
  it.each([
    ["https://Example.com/a?utm_source=rss&utm_medium=x&id=3#top", "https://example.com/a?id=3"],
    ["https://example.com/a?fbclid=1&gclid=2", "https://example.com/a"],
    ["https://example.com/a?page=2", "https://example.com/a?page=2"],
    [null, null],
  ])("%s → %s", (input, want) => {
    expect(canonicalizeUrl(input)).toBe(want);
  });
});

describe("resolveUrl", () => {
  it.each([
    ["/news/1", "https://site.example/feed.xml", "https://site.example/news/1"],
    ["2", "https://site.example/news/", "https://site.example/news/2"],
    ["https://other.example/x", "https://site.example/", "https://other.example/x"],
    ["javascript:alert(1)", "https://site.example/", null],
    [null, "https://site.example/", null],
  ])("%s against %s", (link, base, want) => {
    expect(resolveUrl(link, base)).toBe(want);
  });
});

describe("parseDate", () => {
  it.each([
    { text: "Thu, 26 Nov 2026 07:15:00 GMT", want: "2026-11-26T07:15:00.000Z" },
    { text: "2026-11-26T07:15:00+02:00", want: "2026-11-26T05:15:00.000Z" },
    { text: "2026-11-26T07:15:00", want: "2026-11-26T07:15:00.000Z" }, // zone-less: UTC
    { text: "2026-11-26 07:15", want: "2026-11-26T07:15:00.000Z" },
    { text: "Thu, 26 Nov 2026 07:15:00", want: "2026-11-26T07:15:00.000Z" }, // zone-less RFC 822: UTC, not the host's zone
    { text: "Thu, 26 Nov 26 07:15 EST", want: "2026-11-26T12:15:00.000Z" },
    { text: "20261126T071500Z", want: "2026-11-26T07:15:00.000Z" },
    { text: "2026-11-28T06:00:00Z", want: "2026-11-28T06:00:00.000Z" }, // less than a day ahead: kept
    { text: "2027-05-01T00:00:00Z", want: now.toISOString() }, // far future: clamped to now
    { text: "not a date", want: null },
    { text: null, want: null },
  ])("$text", ({ text, want }) => {
    expect(parseDate(text, now)?.toISOString() ?? null).toBe(want);
  });
});

describe("normalizeItems", () => {
  const feed: ParsedFeed = {
    title: "F",
    link: "https://site.example/",
    items: [
      raw({ guid: "dup", link: "/a", title: "A" }),
      raw({ guid: "dup", link: "/b", title: "B" }),
      raw({ link: "/c?utm_campaign=x", title: "C", date: "2026-11-26T10:00:00Z" }),
    ],
  };
  const items = normalizeItems(feed, { feedId: 7, feedUrl: "https://site.example/feed.xml", seenAt: now });

  it("tells repeated guids inside one fetch apart", () => {
    expect(items.map((i) => i.identityKey)).toEqual(["guid:dup", "guid:dup#2", "url:https://site.example/c"]);
  });
  it("resolves links and strips tracking parameters for the canonical URL only", () => {
    expect(items[2]!.url).toBe("https://site.example/c?utm_campaign=x");
    expect(items[2]!.canonicalUrl).toBe("https://site.example/c");
  });
  it("keeps the published date and the time seen", () => {
    expect(items[2]!.publishedAt).toBe("2026-11-26T10:00:00.000Z");
    expect(items[0]!.publishedAt).toBeNull();
    expect(items[0]!.seenAt).toBe(now.toISOString());
  });
  it("changes the content hash, not the identity, when an item is edited", () => {
    const edited = normalizeItems(
      { ...feed, items: [raw({ guid: "dup", link: "/a", title: "A", content: "C2" })] },
      { feedId: 7, feedUrl: "https://site.example/feed.xml", seenAt: now },
    );
    expect(edited[0]!.identityKey).toBe(items[0]!.identityKey);
    expect(edited[0]!.contentHash).not.toBe(items[0]!.contentHash);
  });
});

describe("normalizeItems: relative links", () => {
  const ctx = { feedId: 1, feedUrl: "https://feeds.example/path/feed.xml", seenAt: now };
  const urlOf = (feed: Partial<ParsedFeed>, item: Partial<RawItem>) =>
    normalizeItems({ title: null, link: null, items: [raw(item)], ...feed }, ctx)[0]!.url;
  it.each([
    { name: "the item's xml:base first", feed: { link: "https://site.example/" }, item: { link: "a", base: "https://base.example/x/" }, want: "https://base.example/x/a" },
    { name: "a relative xml:base against the feed URL", feed: {}, item: { link: "a", base: "sub/" }, want: "https://feeds.example/path/sub/a" },
    { name: "not the channel's link: it names the site, not a base", feed: { link: "https://site.example/blog/" }, item: { link: "/a" }, want: "https://feeds.example/a" },
    { name: "the feed's xml:base", feed: { link: "blog/", base: "https://site.example/" }, item: { link: "a" }, want: "https://site.example/a" },
    { name: "the feed URL last", feed: {}, item: { link: "../a?b=1" }, want: "https://feeds.example/a?b=1" },
    { name: "an absolute link as is", feed: {}, item: { link: "https://other.example/z", base: "https://base.example/" }, want: "https://other.example/z" },
    { name: "a non-http link is dropped", feed: {}, item: { link: "javascript:alert(1)" }, want: null },
  ])("$name", ({ feed, item, want }) => {
    expect(urlOf(feed, item)).toBe(want);
  });
});

describe("hostile item text", () => {
  const ctx = { feedId: 1, feedUrl: "http://x/feed", seenAt: now };
  it("removes NUL from every field, keeps the rest verbatim", () => {
    const feed: ParsedFeed = {
      title: null, link: null,
      items: [raw({ guid: "g\u0000", link: "http://x/\u0000a", title: "a\u0000'\"; %s\u001b[31m", content: "\u0000b\u0007", date: "2026-11-26\u0000" })],
    };
    const [it0] = normalizeItems(feed, ctx);
    expect(it0).toMatchObject({ guid: "g", identityKey: "guid:g", url: "http://x/a", title: "a'\"; %s\u001b[31m", content: "b\u0007" });
    expect(it0!.publishedAt).toBe("2026-11-26T00:00:00.000Z");
    expect(JSON.stringify(it0)).not.toContain("\\u0000");
  });
  it("caps a title at MAX_TITLE_CHARS, never splitting a surrogate pair", () => {
    const huge = "A".repeat(10_000_000);
    const [it0] = normalizeItems({ title: null, link: null, items: [raw({ title: huge })] }, ctx);
    expect(it0!.title).toHaveLength(MAX_TITLE_CHARS);
    expect(it0!.title.endsWith("A…")).toBe(true);
    const emoji = "x".repeat(MAX_TITLE_CHARS - 2) + "😀😀";
    const cut = capTitle(emoji);
    expect(cut).toBe("x".repeat(MAX_TITLE_CHARS - 2) + "…");
    expect(capTitle("short")).toBe("short");
  });
});

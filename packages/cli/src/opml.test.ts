import { describe, expect, it } from "vitest";
import { parseOpml, renderOpml } from "./opml.ts";
import { parseDuration, parseSince, safe } from "./format.ts";

describe("OPML", () => {
  it("reads nested outlines and gives back the same feeds on export", () => {
    const xml = `<?xml version="1.0"?><opml version="2.0"><head/><body>
      <outline text="News"><outline text="A &amp; B" xmlUrl="https://a.example/rss"/></outline>
      <outline title="C" xmlUrl="https://c.example/feed?x=1&amp;y=2"/><outline text="folder only"/></body></opml>`;
    const feeds = parseOpml(xml);
    expect(feeds).toEqual([
      { url: "https://a.example/rss", title: "A & B" },
      { url: "https://c.example/feed?x=1&y=2", title: "C" },
    ]);
    expect(parseOpml(renderOpml(feeds))).toEqual(feeds);
  });
  it("rejects a document that is not OPML", () => {
    expect(() => parseOpml("<rss/>")).toThrow(/not an OPML/);
  });
});

describe("format", () => {
  it.each([
    ["90s", 90_000], ["15m", 900_000], ["24h", 86_400_000], ["7d", 604_800_000], ["1w", 604_800_000], ["7", undefined], ["h", undefined],
  ])("parseDuration(%s)", (text, want) => {
    expect(parseDuration(text)).toBe(want);
  });
  it.each([
    ["24h", "2026-11-26T12:00:00.000Z"], ["2026-11-01T00:00:00Z", "2026-11-01T00:00:00.000Z"], ["yesterday", null],
  ])("parseSince(%s)", (text, want) => {
    expect(parseSince(text, new Date("2026-11-27T12:00:00Z"))?.toISOString() ?? null).toBe(want);
  });
  it("neutralizes control characters and ANSI escapes", () => {
    expect(safe("a\u001b[31mred\u0007\nb")).toBe("a [31mred  b");
  });
});

import { describe, expect, it } from "vitest";
import { normalizeItems } from "@newsfeed/ingest";
import { parseJsonLines } from "./jsonl.ts";

const ctx = { feedId: 3, feedUrl: "https://feed.example/rss", seenAt: new Date("2024-05-01T12:00:00Z") };

describe("parseJsonLines", () => {
  it("reads a line as the same entry in a feed would be read", () => {
    const line = { title: "T", content: "<p>Body</p>", url: "/a/1?utm_source=x", guid: "g1", publishedAt: "Wed, 01 May 2024 10:00:00 GMT" };
    const { items, failures } = parseJsonLines(`${JSON.stringify(line)}\n`, ctx);
    expect(failures).toEqual([]);
    const [fromFeed] = normalizeItems(
      { title: null, link: null, items: [{ guid: "g1", link: line.url, title: "T", content: "<p>Body</p>", date: line.publishedAt }] },
      ctx,
    );
    expect(items).toEqual([fromFeed]);
    expect(items[0]).toMatchObject({ identityKey: "guid:g1", url: "https://feed.example/a/1?utm_source=x", publishedAt: "2024-05-01T10:00:00.000Z" });
  });

  it("takes a line's own seenAt, and ignores fields it does not know", () => {
    const { items } = parseJsonLines(
      JSON.stringify({ title: "T", content: "c", seenAt: "2024-04-01T00:00:00Z", identityKey: "x", contentHash: "y", feedId: 99 }),
      ctx,
    );
    expect(items[0]).toMatchObject({ feedId: 3, seenAt: "2024-04-01T00:00:00.000Z" });
    expect(items[0]!.identityKey).toMatch(/^hash:/);
    expect(items[0]!.contentHash).not.toBe("y");
  });

  it.each([
    { line: "{not json", error: /^not JSON: / },
    { line: "[1,2]", error: /expected object/ },
    { line: `{"content": "c"}`, error: /^title: / },
    { line: `{"title": 1, "content": "c"}`, error: /^title: / },
    { line: `{"title": " ", "content": ""}`, error: /title and content are both empty/ },
    { line: `{"title": "t", "content": "c", "seenAt": "yesterday"}`, error: /^seenAt: expected an ISO 8601 time/ },
    { line: `{"title": "t", "content": "c", "url": 5}`, error: /^url: / },
  ])("reports $line by line number and reads the rest", ({ line, error }) => {
    const text = [JSON.stringify({ title: "a", content: "1" }), "", line, JSON.stringify({ title: "b", content: "2" })].join("\n");
    const { items, failures } = parseJsonLines(text, ctx);
    expect(items.map((it) => it.title)).toEqual(["a", "b"]);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.line).toBe(3);
    expect(failures[0]!.error).toMatch(error);
  });

  it("accepts null for the optional fields and skips blank lines", () => {
    const { items, failures } = parseJsonLines(
      `\n  \n${JSON.stringify({ title: "t", content: "c", url: null, guid: null, publishedAt: null })}\r\n`,
      ctx,
    );
    expect(failures).toEqual([]);
    expect(items[0]).toMatchObject({ url: null, guid: null, publishedAt: null, seenAt: "2024-05-01T12:00:00.000Z" });
  });
});

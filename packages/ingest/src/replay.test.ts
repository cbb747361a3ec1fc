import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { ItemPayload } from "@newsfeed/jobs";
import { IngestError } from "./errors.ts";
import { NewestVersions, readArchivedBody, replayVerdict } from "./replay.ts";

const item = (identityKey: string, contentHash: string, seenAt: string, feedId = 1): ItemPayload => ({
  feedId, identityKey, guid: null, url: null, canonicalUrl: null, title: contentHash, content: "", publishedAt: null,
  seenAt, contentHash,
});
const T = (h: number) => new Date(Date.UTC(2024, 4, 1, h)).toISOString();

describe("NewestVersions", () => {
  it.each([
    { name: "one version seen in many fetches: seen when it first appeared", adds: [["a", "A", 1], ["a", "A", 2], ["a", "A", 3]], want: [["a", "A", 1]] },
    { name: "an edit: the later version wins, seen when it appeared", adds: [["a", "A", 1], ["a", "B", 2], ["a", "B", 3]], want: [["a", "B", 2]] },
    { name: "edited back: the newest run counts", adds: [["a", "A", 1], ["a", "B", 2], ["a", "A", 3], ["a", "A", 4]], want: [["a", "A", 3]] },
    { name: "an older version added after a newer one loses", adds: [["a", "B", 5], ["a", "A", 1]], want: [["a", "B", 5]] },
    { name: "a tie: the later added wins", adds: [["a", "A", 1], ["a", "B", 1]], want: [["a", "B", 1]] },
    { name: "items are kept apart by identity", adds: [["a", "A", 1], ["b", "A", 2]], want: [["a", "A", 1], ["b", "A", 2]] },
  ] as { name: string; adds: [string, string, number][]; want: [string, string, number][] }[])("$name", ({ adds, want }) => {
    const v = new NewestVersions();
    for (const [k, h, t] of adds) v.add([item(k, h, T(t))]);
    expect(v.values().map((it) => [it.identityKey, it.contentHash, it.seenAt])).toEqual(want.map(([k, h, t]) => [k, h, T(t)]));
    expect(v.size).toBe(want.length);
  });

  it("keeps feeds apart", () => {
    const v = new NewestVersions();
    v.add([item("a", "A", T(1), 1), item("a", "B", T(2), 2)]);
    expect(v.size).toBe(2);
  });
});

describe("replayVerdict", () => {
  it.each([
    { stored: undefined, hash: "A", seen: 5, want: "new" },
    { stored: { contentHash: "A", lastSeenAt: new Date(T(9)) }, hash: "A", seen: 5, want: "unchanged" },
    { stored: { contentHash: "A", lastSeenAt: new Date(T(4)) }, hash: "B", seen: 5, want: "updated" },
    { stored: { contentHash: "A", lastSeenAt: new Date(T(5)) }, hash: "B", seen: 5, want: "updated" },
    { stored: { contentHash: "A", lastSeenAt: new Date(T(6)) }, hash: "B", seen: 5, want: "older" },
  ])("stored $stored, replayed $hash seen at $seen → $want", ({ stored, hash, seen, want }) => {
    expect(replayVerdict({ contentHash: hash, seenAt: T(seen) }, stored)).toBe(want);
  });
});

describe("readArchivedBody", () => {
  const rss = `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>
    <item><title>One</title><link>/a/1</link><description>Body one</description></item></channel></rss>`;
  const fetch = (body: Buffer, finalUrl: string | null = null) => ({
    feedId: 7, startedAt: new Date(T(3)), contentType: "application/rss+xml", finalUrl, bodyGzip: body,
  });

  it("reads items with the fetch's time and the final URL as base", async () => {
    const items = await readArchivedBody(fetch(gzipSync(rss), "https://moved.example/feed"), "https://feed.example/rss");
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ feedId: 7, seenAt: T(3), url: "https://moved.example/a/1", title: "One" });
  });

  it("takes the feed URL as base when there was no redirect", async () => {
    const [it1] = await readArchivedBody(fetch(gzipSync(rss)), "https://feed.example/rss");
    expect(it1!.url).toBe("https://feed.example/a/1");
  });

  it.each([
    { name: "not gzip", body: Buffer.from("plain"), code: "bad_encoding" },
    { name: "not a feed", body: gzipSync("<html><body>no</body></html>"), code: "parse" },
  ])("throws a classified error for a body that is $name", async ({ body, code }) => {
    const err = await readArchivedBody(fetch(body), "https://feed.example/rss").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestError);
    expect((err as IngestError).code).toBe(code);
  });
});

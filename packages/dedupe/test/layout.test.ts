import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { FingerprintIndex, prepareDoc } from "@newsfeed/dedupe";
import { LAYOUT_LUA } from "../src/index/layout-lua.ts";

const redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
const prefix = `nf-test:${randomBytes(4).toString("hex")}:layout:`;
const HOUR = 3_600_000;

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

const entry = (tag: number, id: number) => {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(tag, 0);
  b.writeUInt32BE(id, 2);
  return b;
};

describe("bucket strings (6-byte entries: 2-byte tag, 4-byte id)", () => {
  // The tag bytes may also occur inside an id, or straddle two entries: only aligned hits count.
  it.each([
    { name: "empty", bucket: Buffer.alloc(0), tag: 0x0102, want: [] },
    { name: "one hit", bucket: Buffer.concat([entry(0x0102, 7)]), tag: 0x0102, want: [7] },
    { name: "hits among others", bucket: Buffer.concat([entry(0x0102, 7), entry(0x0a0b, 8), entry(0x0102, 9)]), tag: 0x0102, want: [7, 9] },
    { name: "tag bytes inside an id", bucket: Buffer.concat([entry(0x0a0b, 0x00010200), entry(0x0102, 5)]), tag: 0x0102, want: [5] },
    { name: "tag bytes across two entries", bucket: Buffer.concat([entry(0x0a0b, 0x00000001), entry(0x0203, 6)]), tag: 0x0102, want: [] },
  ])("$name", async ({ bucket, tag, want }) => {
    const t = Buffer.alloc(2);
    t.writeUInt16BE(tag);
    const ids = await redis.eval(`${LAYOUT_LUA}\nlocal out = {}\nbucketIds(ARGV[1], ARGV[2], out)\nreturn out`, 0, bucket, t);
    expect(ids).toEqual(want);
  });
});

describe("index layout", () => {
  const index = new FingerprintIndex(redis, { prefix, windowMs: 72 * HOUR, minContainment: 0.4, maxNumberMismatches: 2 });
  const doc = (i: number) => prepareDoc(`Story number ${i} about ${randomBytes(40).toString("hex")} and ${i * 7} other things in ${randomBytes(40).toString("hex")}`);

  it("gives every key but the id counter a TTL, so expired fingerprints leave without a scan", async () => {
    const ts = Date.parse("2026-02-01T00:00:00Z");
    await index.assign(Array.from({ length: 50 }, (_, i) => {
      const d = doc(i);
      return { ref: `ttl-${i}`, ts: ts + i * HOUR, fp: d.fp, sketch: d.sketch, shingles: d.shingles, numbers: d.numbers, feedId: 1, chrome: ["k1"] };
    }));
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(20);
    const ttls = await Promise.all(keys.map(async (k) => [k.slice(prefix.length), await redis.ttl(k)] as const));
    expect(ttls.filter(([k, ttl]) => k !== "seq" && ttl <= 0)).toEqual([]);
  });

  it("finds the copies of one story among thousands of others", async () => {
    const ts = Date.parse("2026-03-01T00:00:00Z");
    const docs = Array.from({ length: 3000 }, (_, i) => doc(i));
    const loaded = await index.load(docs.map((d, i) => ({
      ref: `bulk-${i}`, ts: ts + (i % 60) * 60_000, fp: d.fp, sketch: d.sketch, shingles: d.shingles, numbers: d.numbers,
      storyKey: `bulk-${i}`, distance: 0, similarity: 1,
    })));
    expect(loaded).toBe(3000);
    // Loading again overwrites in place: nothing new.
    const d0 = docs[0]!;
    expect(await index.load([{ ref: "bulk-0", ts, fp: d0.fp, sketch: d0.sketch, shingles: d0.shingles, numbers: d0.numbers, storyKey: "bulk-0", distance: 0, similarity: 1 }])).toBe(0);
    const picks = [0, 1234, 2999];
    const res = await index.assign(picks.map((i) => {
      const d = docs[i]!;
      return { ref: `copy-${i}`, ts: ts + HOUR, fp: d.fp, sketch: d.sketch, shingles: d.shingles, numbers: d.numbers };
    }));
    expect(res.map((r) => r.storyKey)).toEqual(picks.map((i) => `bulk-${i}`));
  });

  it("refuses refs that do not fit a record", async () => {
    const d = doc(1);
    await expect(index.assign([{ ref: "x".repeat(17), ts: 0, fp: d.fp, sketch: d.sketch, shingles: d.shingles, numbers: d.numbers }]))
      .rejects.toThrow(/1–16 printable ASCII/);
  });
});

import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FingerprintIndex, type Fingerprint } from "@newsfeed/dedupe";

const redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
const prefix = `nf-test:${randomBytes(4).toString("hex")}:idx:`;
const HOUR = 3_600_000;
let index: FingerprintIndex;

beforeAll(() => {
  index = new FingerprintIndex(redis, { prefix, windowMs: 72 * HOUR, threshold: 7 });
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

const flip = (fp: Fingerprint, bits: number[]): Fingerprint => {
  let { hi, lo } = fp;
  for (const b of bits) {
    if (b < 32) lo = (lo ^ (1 << b)) >>> 0;
    else hi = (hi ^ (1 << (b - 32))) >>> 0;
  }
  return { hi, lo };
};
const BASE: Fingerprint = { hi: 0x9e3779b9, lo: 0x7f4a7c15 };
const T0 = Date.parse("2026-11-27T00:00:00Z");

describe("FingerprintIndex.assign", () => {
  it.each([
    { slot: 1, name: "identical", bits: [], joins: true },
    { slot: 2, name: "3 bits apart", bits: [1, 20, 40], joins: true },
    // One differing bit in each 16-bit band: only the one-bit probes find it.
    { slot: 3, name: "7 bits apart, every band touched", bits: [0, 16, 17, 32, 33, 48, 49], joins: true },
    { slot: 4, name: "8 bits apart (over the threshold)", bits: [0, 1, 16, 17, 32, 33, 48, 49], joins: false },
    { slot: 5, name: "unrelated", bits: [...Array(30).keys()].map((i) => i * 2), joins: false },
  ])("$name", async ({ slot, name, bits, joins }) => {
    const tag = name.replace(/\W+/g, "-");
    // A time of its own per case, far outside the others' windows.
    const ts = T0 + slot * 1000 * HOUR;
    const [founder] = await index.assign([{ ref: `${tag}-a`, ts, fp: BASE }]);
    const [copy] = await index.assign([{ ref: `${tag}-b`, ts: ts + HOUR, fp: flip(BASE, bits) }]);
    if (joins) {
      expect(copy).toEqual({ storyKey: `${tag}-a`, distance: bits.length, created: true });
    } else {
      expect(copy).toEqual({ storyKey: `${tag}-b`, distance: 0, created: true });
    }
    expect(founder!.created).toBe(true);
  });

  it("keeps an item's assignment when it is delivered again", async () => {
    const [a] = await index.assign([{ ref: "again-a", ts: T0, fp: { hi: 1, lo: 2 } }]);
    const [b] = await index.assign([{ ref: "again-a", ts: T0, fp: { hi: 0xffff, lo: 0xffff } }]);
    expect(b).toEqual({ storyKey: a!.storyKey, distance: 0, created: false });
  });

  it("assigns copies inside one batch to one story", async () => {
    const fp = { hi: 0x12345678, lo: 0x0badf00d };
    const res = await index.assign([
      { ref: "batch-1", ts: T0, fp },
      { ref: "batch-2", ts: T0 + 1, fp: flip(fp, [5]) },
      { ref: "batch-3", ts: T0 + 2, fp: flip(fp, [60]) },
    ]);
    expect(res.map((r) => r.storyKey)).toEqual(["batch-1", "batch-1", "batch-1"]);
  });

  it("ignores fingerprints outside the time window", async () => {
    const fp = { hi: 0x0f0f0f0f, lo: 0x33333333 };
    await index.assign([{ ref: "old", ts: T0 - 100 * HOUR, fp }]);
    const [late] = await index.assign([{ ref: "new", ts: T0, fp }]);
    expect(late!.storyKey).toBe("new");
  });
});

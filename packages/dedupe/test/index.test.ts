import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { FingerprintIndex, prepareDoc, type IndexEntry } from "@newsfeed/dedupe";

const redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
const prefix = `nf-test:${randomBytes(4).toString("hex")}:idx:`;
const HOUR = 3_600_000;
const index = new FingerprintIndex(redis, { prefix, windowMs: 72 * HOUR, minContainment: 0.4, maxNumberMismatches: 2 });

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

const WIRE = [
  "Dockworkers at Port Halvering, the busiest container terminal on the eastern coast, began an indefinite strike early on Thursday after talks over pay and automation collapsed overnight, leaving at least 14 vessels waiting at anchor.",
  "The Coastal Stevedores Union said about 3,200 members stopped work at 5 a.m. local time. The union is seeking a 9 percent raise over two years and written guarantees that remote-controlled cranes will not replace existing crews.",
  "The Halvering Port Authority said it regretted the stoppage and had offered a 6 percent increase along with a retraining fund. It said cargo would be diverted to smaller harbours where possible.",
  "Freight forwarders warned that the timing could hardly be worse. Retailers rely on the port for a large share of holiday imports, and a prolonged dispute could push up shipping costs within days.",
  "No new talks have been scheduled. The regional labour mediator said she would contact both sides on Friday.",
];
const OTHER =
  "Firefighters battled a fast-moving wildfire in the northern hills overnight as strong winds pushed flames toward several small villages, forcing hundreds of residents to leave their homes. Officials said no deaths had been reported but at least twelve houses and a school were destroyed.";
const BRIEF = (shr: number, net: number) =>
  `Shr ${shr} cts vs ${shr + 3} cts. Net ${net} mln vs ${net + 1} mln. Revs 41.5 mln vs 39.8 mln. The company said results for the quarter reflected higher sales of its industrial products and lower interest costs.`;

let slot = 0;
const entry = (ref: string, text: string, ts: number): IndexEntry => {
  const d = prepareDoc(text);
  return { ref, ts, fp: d.fp, sketch: d.sketch, shingles: d.shingles, numbers: d.numbers };
};

describe("FingerprintIndex.assign", () => {
  it.each([
    { name: "an identical copy", copy: WIRE.join("\n\n"), joins: true },
    { name: "a copy trimmed by 40%", copy: WIRE.slice(0, 3).join("\n\n"), joins: true },
    { name: "a copy with a paragraph added", copy: [...WIRE, "Shares in port operators fell sharply in early trading."].join("\n\n"), joins: true },
    { name: "a copy with words edited", copy: WIRE.join("\n\n").replace("indefinite", "open-ended").replace("regretted", "deplored"), joins: true },
    { name: "an unrelated story", copy: OTHER, joins: false },
  ])("$name", async ({ copy, joins }) => {
    // A time of its own per case, far outside the others' windows.
    const ts = Date.parse("2026-01-01T00:00:00Z") + ++slot * 1000 * HOUR;
    const tag = `case${slot}`;
    const [founder] = await index.assign([entry(`${tag}-a`, WIRE.join("\n\n"), ts)]);
    const [res] = await index.assign([entry(`${tag}-b`, copy, ts + HOUR)]);
    expect(founder).toMatchObject({ storyKey: `${tag}-a`, created: true, similarity: 1 });
    if (joins) {
      expect(res).toMatchObject({ storyKey: `${tag}-a`, created: true });
      expect(res!.similarity).toBeGreaterThanOrEqual(0.4);
    } else {
      expect(res).toEqual({ storyKey: `${tag}-b`, distance: 0, similarity: 1, created: true, merged: [] });
    }
  });

  it("keeps templated briefs with different numbers apart", async () => {
    const ts = Date.parse("2026-01-01T00:00:00Z") + ++slot * 1000 * HOUR;
    const [a, b, c] = await index.assign([
      entry("brief-a", BRIEF(10, 5), ts),
      entry("brief-b", BRIEF(22, 17), ts + 1),
      entry("brief-a-copy", BRIEF(10, 5), ts + 2),
    ]);
    expect(a!.storyKey).toBe("brief-a");
    expect(b!.storyKey).toBe("brief-b");
    expect(c!.storyKey).toBe("brief-a");
  });

  it("merges two stories when a new copy contains both", async () => {
    const ts = Date.parse("2026-01-01T00:00:00Z") + ++slot * 1000 * HOUR;
    // Two halves of one wire story arrive first (trimmed from different ends), then the whole.
    const [a] = await index.assign([entry("merge-a", WIRE.slice(0, 3).join("\n"), ts)]);
    const [b] = await index.assign([entry("merge-b", WIRE.slice(2).join("\n"), ts + 1)]);
    const [whole] = await index.assign([entry("merge-whole", WIRE.join("\n"), ts + 2)]);
    expect(a!.storyKey).toBe("merge-a");
    expect(b!.storyKey).toBe("merge-b");
    expect(whole).toMatchObject({ storyKey: "merge-a", merged: ["merge-b"] });
    // Later copies of the merged story land in the survivor.
    const [late] = await index.assign([entry("merge-late", WIRE.slice(3).join("\n"), ts + 3)]);
    expect(late!.storyKey).toBe("merge-a");
  });

  it("keeps an item's assignment when it is delivered again", async () => {
    const ts = Date.parse("2026-01-01T00:00:00Z") + ++slot * 1000 * HOUR;
    const [first] = await index.assign([entry("again-a", WIRE.join("\n"), ts)]);
    const [again] = await index.assign([entry("again-a", OTHER, ts)]);
    expect(again).toEqual({ ...first, created: false });
  });

  it("ignores copies outside the time window", async () => {
    const ts = Date.parse("2026-01-01T00:00:00Z") + ++slot * 1000 * HOUR;
    await index.assign([entry("old", WIRE.join("\n"), ts - 100 * HOUR)]);
    const [late] = await index.assign([entry("new", WIRE.join("\n"), ts)]);
    expect(late!.storyKey).toBe("new");
  });
});


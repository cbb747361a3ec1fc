import { describe, expect, it } from "vitest";
import {
  baseInterval, DEFAULT_SCHEDULE, freshnessMs, nextCheckAt, rssTtlMs, updateItemRate, type ScheduleOptions,
} from "./schedule.ts";

const opts: ScheduleOptions = { minIntervalMs: 300_000, maxIntervalMs: 86_400_000, defaultIntervalMs: 1_800_000, jitter: 0.1 };
const MIN = 60_000;

describe("baseInterval", () => {
  it.each([
    { name: "unknown rate → default", input: { errorCount: 0 }, want: 30 * MIN },
    { name: "48 items/day → 30 min", input: { errorCount: 0, itemsPerDay: 48 }, want: 30 * MIN },
    { name: "10,000 items/day → clamped to min", input: { errorCount: 0, itemsPerDay: 10_000 }, want: 5 * MIN },
    { name: "0.1 items/day → clamped to max", input: { errorCount: 0, itemsPerDay: 0.1 }, want: 24 * 60 * MIN },
    { name: "no items → max", input: { errorCount: 0, itemsPerDay: 0 }, want: 24 * 60 * MIN },
    { name: "1 error → 2 × min", input: { errorCount: 1 }, want: 10 * MIN },
    { name: "3 errors → 8 × min", input: { errorCount: 3 }, want: 40 * MIN },
    { name: "many errors → capped at max", input: { errorCount: 50 }, want: 24 * 60 * MIN },
  ])("$name", ({ input, want }) => {
    expect(baseInterval(input, opts)).toBe(want);
  });
});

describe("nextCheckAt", () => {
  const now = new Date("2026-11-27T12:00:00Z");
  it.each([
    { random: 0, want: 27 * MIN },
    { random: 0.5, want: 30 * MIN },
    { random: 0.999999, want: 33 * MIN },
  ])("applies ±10% jitter (random $random)", ({ random, want }) => {
    const at = nextCheckAt({ now, errorCount: 0, random }, opts);
    expect(Math.abs(at.getTime() - now.getTime() - want)).toBeLessThan(1000);
  });
  it("never schedules sooner than the minimum interval", () => {
    const at = nextCheckAt({ now, errorCount: 0, itemsPerDay: 1e6, random: 0 }, opts);
    expect(at.getTime() - now.getTime()).toBe(opts.minIntervalMs);
  });
  it("spreads feeds that share a schedule", () => {
    const times = new Set([0.1, 0.3, 0.5, 0.7, 0.9].map((random) => nextCheckAt({ now, errorCount: 0, random }).getTime()));
    expect(times.size).toBe(5);
    expect(DEFAULT_SCHEDULE.jitter).toBeGreaterThan(0);
  });
});

describe("nextCheckAt with a publisher floor (ttl, max-age, Expires, Retry-After)", () => {
  const now = new Date("2026-11-27T12:00:00Z");
  it.each([
    { name: "floor above the base interval wins", floor: 2 * 60 * MIN, random: 0, want: [120 * MIN, 120 * MIN] },
    { name: "floor gets upward jitter only", floor: 2 * 60 * MIN, random: 0.999, want: [120 * MIN, 132 * MIN] },
    { name: "floor below the base changes nothing", floor: 10 * MIN, random: 0.5, want: [30 * MIN, 30 * MIN] },
    { name: "floor is capped at the maximum", floor: 7 * 24 * 60 * MIN, random: 0, want: [24 * 60 * MIN, 24 * 60 * MIN] },
  ])("$name", ({ floor, random, want }) => {
    const ms = nextCheckAt({ now, errorCount: 0, notBeforeMs: floor, random }, opts).getTime() - now.getTime();
    expect(ms).toBeGreaterThanOrEqual(want[0]! - 1000);
    expect(ms).toBeLessThanOrEqual(want[1]! + 1000);
  });
});

describe("updateItemRate", () => {
  const H = 3_600_000;
  it.each([
    { name: "first fetch: unknown", prev: null, items: 50, elapsed: null, want: null },
    { name: "second fetch: the sample", prev: null, items: 2, elapsed: 12 * H, want: 4 },
    { name: "a quiet hour lowers a little", prev: 48, items: 0, elapsed: H, lo: 47, hi: 48 },
    { name: "a quiet week drops to near zero", prev: 48, items: 0, elapsed: 7 * 24 * H, lo: 0, hi: 5 },
    { name: "a burst raises", prev: 10, items: 20, elapsed: 2 * H, lo: 10.5, hi: 20 },
  ])("$name", ({ prev, items, elapsed, want, lo, hi }) => {
    const r = updateItemRate(prev, items, elapsed);
    if (want !== undefined) expect(r).toBe(want);
    else {
      expect(r).toBeGreaterThanOrEqual(lo!);
      expect(r).toBeLessThanOrEqual(hi!);
    }
  });
});

describe("publisher hints", () => {
  const now = new Date("2026-11-27T12:00:00Z");
  it.each([
    { name: "max-age", headers: { "cache-control": "public, max-age=600" }, want: 600_000 },
    { name: "s-maxage", headers: { "cache-control": "s-maxage=120" }, want: 120_000 },
    { name: "no-cache", headers: { "cache-control": "no-cache, max-age=600" }, want: null },
    { name: "Expires", headers: { expires: "Fri, 27 Nov 2026 13:00:00 GMT" }, want: 3_600_000 },
    { name: "Expires in the past", headers: { expires: "Fri, 27 Nov 2026 11:00:00 GMT" }, want: 0 },
    { name: "bad Expires", headers: { expires: "0" }, want: null },
    { name: "none", headers: {}, want: null },
  ])("$name", ({ headers, want }) => {
    expect(freshnessMs(new Headers(headers as Record<string, string>), now)).toBe(want);
  });
  it.each([
    { text: "<rss><channel><ttl>60</ttl></channel></rss>", want: 3_600_000 },
    { text: "<rss><channel><ttl> 5 </ttl></channel></rss>", want: 300_000 },
    { text: "<rss><channel><ttl>soon</ttl></channel></rss>", want: null },
    { text: "<feed></feed>", want: null },
  ])("rss ttl in $text", ({ text, want }) => {
    expect(rssTtlMs(text)).toBe(want);
  });
});


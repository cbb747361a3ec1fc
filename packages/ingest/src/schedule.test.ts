import { describe, expect, it } from "vitest";
import { baseInterval, DEFAULT_SCHEDULE, nextCheckAt, type ScheduleOptions } from "./schedule.ts";

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

import { describe, expect, it } from "vitest";
import { parseRetryAfter } from "./retry-after.ts";

const now = Date.parse("2026-03-01T12:00:00Z");
const DAY = 86_400_000;

describe("parseRetryAfter", () => {
  it.each([
    { value: "120", want: 120_000 },
    { value: " 0 ", want: 0 },
    { value: "Sun, 01 Mar 2026 12:01:30 GMT", want: 90_000 }, // IMF-fixdate
    { value: "Sunday, 01-Mar-26 12:00:10 GMT", want: 10_000 }, // RFC 850
    { value: "Sun Mar  1 12:00:05 2026", want: 5_000 }, // asctime, read as GMT
    { value: "Sun, 01 Mar 2026 11:00:00 GMT", want: 0 }, // in the past
    { value: "99999999", want: DAY }, // capped
    { value: "9".repeat(400), want: DAY },
  ])("$value → $want ms", ({ value, want }) => {
    expect(parseRetryAfter(value, now, DAY)).toBe(want);
  });
  it.each([null, undefined, "", "-5", "1.5", "soon", "12abc", "Mon, 99 Foo 2020 xx"])("%j → null", (value) => {
    expect(parseRetryAfter(value, now, DAY)).toBeNull();
  });
  it("applies the cap to dates too", () => {
    expect(parseRetryAfter("Mon, 02 Mar 2026 12:00:00 GMT", now, 3_600_000)).toBe(3_600_000);
  });
});

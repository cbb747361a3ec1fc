import { Counter, register } from "prom-client";
import { describe, expect, it } from "vitest";
import { fetchesTotal, metricOnce, observeFetch, statusClass } from "./metrics.ts";

const sample = async (name: string, labels: Record<string, string | number>) =>
  (await register.getSingleMetric(name)!.get()).values.find((v) =>
    Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
  )?.value;

describe("ingest metrics", () => {
  it("classes HTTP statuses, and no response as none", () => {
    expect([200, 204, 304, 404, 429, 503].map(statusClass)).toEqual(["2xx", "2xx", "3xx", "4xx", "4xx", "5xx"]);
    expect([null, undefined, 0, 42, 600, Number.NaN].map(statusClass)).toEqual(Array(6).fill("none"));
  });

  it("counts a fetch by outcome and status class, its duration, and its error class", async () => {
    const before = (await sample("newsfeed_fetches_total", { outcome: "error", status_class: "none" })) ?? 0;
    observeFetch("error", null, 0.2, "timeout");
    observeFetch("ok", 200, 0.05);
    expect(await sample("newsfeed_fetches_total", { outcome: "error", status_class: "none" })).toBe(before + 1);
    expect(await sample("newsfeed_fetches_total", { outcome: "ok", status_class: "2xx" })).toBeGreaterThanOrEqual(1);
    expect(await sample("newsfeed_fetch_errors_total", { error_class: "timeout" })).toBeGreaterThanOrEqual(1);
    expect(await sample("newsfeed_fetch_duration_seconds", { outcome: "ok", le: 0.05 })).toBeGreaterThanOrEqual(1);
  });

  it("registers a name once, however often it is asked for", () => {
    expect(metricOnce("newsfeed_fetches_total", () => new Counter({ name: "newsfeed_fetches_total", help: "again" }))).toBe(fetchesTotal);
  });
});

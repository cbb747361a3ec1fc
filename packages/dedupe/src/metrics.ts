/**
 * The dedupe stage's Prometheus metrics, in prom-client's process-global registry
 * (the one the service's /metrics serves; see docs/observability.md). Looked up by
 * name before creation, so that a second load of this module, or the ingest
 * package's identical definition of the shared job histogram, registers nothing twice.
 */
import { Counter, Histogram, register, type Metric } from "prom-client";
import type { SaveResult } from "@newsfeed/store";

function metricOnce<T extends Metric>(name: string, make: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}

export type DedupeDecision = "new_story" | "joined" | "merged";

export const dedupeDecisions = metricOnce(
  "newsfeed_dedupe_decisions_total",
  () =>
    new Counter({
      name: "newsfeed_dedupe_decisions_total",
      help: "Dedupe decisions stored: an item founded a story (new_story), joined an existing one (joined), or its arrival merged two stories (merged, per story merged away)",
      labelNames: ["decision"] as const,
    }),
);
for (const decision of ["new_story", "joined", "merged"]) dedupeDecisions.inc({ decision }, 0);

export const itemsStored = metricOnce(
  "newsfeed_items_stored_total",
  () =>
    new Counter({
      name: "newsfeed_items_stored_total",
      help: "Items dedupe wrote to Postgres: inserted (new) or updated (changed content); re-deliveries count nothing",
      labelNames: ["kind"] as const,
    }),
);
for (const kind of ["inserted", "updated"]) itemsStored.inc({ kind }, 0);

/** Same definition as @newsfeed/ingest's: whichever package loads first registers it. */
export const jobDuration = metricOnce(
  "newsfeed_job_duration_seconds",
  () =>
    new Histogram({
      name: "newsfeed_job_duration_seconds",
      help: "Time a worker spent on one job, by queue (failed jobs included)",
      labelNames: ["queue"] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    }),
);

/**
 * The decisions a committed batch stored, from its SaveResult: each story created is
 * one new_story (its founding member), every other membership added is one joined,
 * each story merged away one merged. A re-delivered batch adds no membership and
 * so counts nothing, whatever the index answered.
 */
export function decisionsOf(r: SaveResult): Record<DedupeDecision, number> {
  return {
    new_story: r.storiesCreated,
    joined: Math.max(0, r.membershipsAdded - r.storiesCreated),
    merged: r.storiesMerged,
  };
}

/** Counts a committed batch's decisions and stored items. */
export function observeSave(r: SaveResult): void {
  for (const [decision, n] of Object.entries(decisionsOf(r))) if (n > 0) dedupeDecisions.inc({ decision }, n);
  if (r.itemsInserted > 0) itemsStored.inc({ kind: "inserted" }, r.itemsInserted);
  if (r.itemsUpdated > 0) itemsStored.inc({ kind: "updated" }, r.itemsUpdated);
}

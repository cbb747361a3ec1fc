/**
 * The dedupe stage's Prometheus metrics, in prom-client's process-global registry
 * (the one the service's /metrics serves; see docs/observability.md). Looked up by
 * name before creation (metricOnce), so that a second load of this module registers
 * nothing twice. The job duration histogram is @newsfeed/jobs', shared with ingest.
 */
import { Counter } from "prom-client";
import { metricOnce } from "@newsfeed/jobs";
import type { SaveResult } from "@newsfeed/store";

export { jobDuration } from "@newsfeed/jobs";

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

/**
 * The ingest stage's Prometheus metrics, in prom-client's process-global registry
 * (the one the service's /metrics serves; see docs/observability.md). Each metric
 * is looked up by name before it is created (metricOnce), so that this module loading
 * twice in one process never registers a name twice. The job duration histogram is
 * @newsfeed/jobs', shared with the dedupe worker.
 */
import { Counter, Histogram } from "prom-client";
import { metricOnce } from "@newsfeed/jobs";

export { jobDuration, metricOnce } from "@newsfeed/jobs";

/** Upper bounds of the fetch duration buckets, in seconds. */
export const FETCH_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const fetchesTotal = metricOnce(
  "newsfeed_fetches_total",
  () =>
    new Counter({
      name: "newsfeed_fetches_total",
      help: "Feed fetches by outcome (ok, not_modified, error) and HTTP status class (2xx…5xx, none: no response)",
      labelNames: ["outcome", "status_class"] as const,
    }),
);

export const fetchDuration = metricOnce(
  "newsfeed_fetch_duration_seconds",
  () =>
    new Histogram({
      name: "newsfeed_fetch_duration_seconds",
      help: "Time of one feed fetch, from the request to the fetch recorded (parse and queueing included), by outcome",
      labelNames: ["outcome"] as const,
      buckets: FETCH_BUCKETS,
    }),
);

export const fetchErrors = metricOnce(
  "newsfeed_fetch_errors_total",
  () =>
    new Counter({
      name: "newsfeed_fetch_errors_total",
      help: "Failed feed fetches by error class (timeout, network, http_status, parse, …), as stored on the feed",
      labelNames: ["error_class"] as const,
    }),
);

export const itemsIngested = metricOnce(
  "newsfeed_items_ingested_total",
  () =>
    new Counter({
      name: "newsfeed_items_ingested_total",
      help: "Items ingest queued for dedupe: new to the store, or stored with changed content (updated)",
      labelNames: ["kind"] as const,
    }),
);
for (const kind of ["new", "updated"]) itemsIngested.inc({ kind }, 0);

export const hostDeferrals = metricOnce(
  "newsfeed_host_deferrals_total",
  () =>
    new Counter({
      name: "newsfeed_host_deferrals_total",
      help: "Fetches deferred by the per-host gate: over the host's budget, or the host on hold (Retry-After)",
      labelNames: ["reason"] as const,
    }),
);
for (const reason of ["budget", "hold"]) hostDeferrals.inc({ reason }, 0);

export const scheduledFetches = metricOnce(
  "newsfeed_scheduled_fetches_total",
  () =>
    new Counter({
      name: "newsfeed_scheduled_fetches_total",
      help: "Fetch jobs the scheduler queued for due feeds",
    }),
);

export const schedulerErrors = metricOnce(
  "newsfeed_scheduler_errors_total",
  () =>
    new Counter({
      name: "newsfeed_scheduler_errors_total",
      help: "Scheduler rounds that failed (Postgres or Redis unavailable, …); the next round retries",
    }),
);

export const fetchLag = metricOnce(
  "newsfeed_fetch_lag_seconds",
  () =>
    new Histogram({
      name: "newsfeed_fetch_lag_seconds",
      help: "How late a scheduled fetch started: the job's start minus the time the feed was due",
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600],
    }),
);

/** "2xx"…"5xx" for an HTTP status, "none" when no response came (timeout, network, refused address). */
export function statusClass(status: number | null | undefined): string {
  if (status == null || !Number.isFinite(status) || status < 100 || status > 599) return "none";
  return `${Math.floor(status / 100)}xx`;
}

/** Counts one fetch that reached the network (or was refused before it): outcome, status class, duration. */
export function observeFetch(
  outcome: "ok" | "not_modified" | "error",
  status: number | null | undefined,
  seconds: number,
  errorClass?: string,
): void {
  fetchesTotal.inc({ outcome, status_class: statusClass(status) });
  fetchDuration.observe({ outcome }, seconds);
  if (outcome === "error") fetchErrors.inc({ error_class: errorClass ?? "unknown" });
}

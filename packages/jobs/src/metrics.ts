/**
 * What the ingest and dedupe packages' Prometheus metrics share, in prom-client's
 * process-global registry (the one the service's /metrics serves; see
 * docs/observability.md): the look-up-before-create helper and the job duration
 * histogram both workers observe.
 */
import { Histogram, register, type Metric } from "prom-client";

/**
 * The registered metric of that name, else the one `make` registers: a module that
 * loads twice in one process (test runners, two copies of a package) never
 * registers a name twice.
 */
export function metricOnce<T extends Metric>(name: string, make: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}

/** Upper bounds of the job duration buckets, in seconds. */
const JOB_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Time a worker spent on one job, by queue: the ingest worker's fetch jobs, the dedupe worker's items jobs. */
export const jobDuration = metricOnce(
  "newsfeed_job_duration_seconds",
  () =>
    new Histogram({
      name: "newsfeed_job_duration_seconds",
      help: "Time a worker spent on one job, by queue (failed jobs included)",
      labelNames: ["queue"] as const,
      buckets: JOB_BUCKETS,
    }),
);

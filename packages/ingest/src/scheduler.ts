import type { Queue } from "bullmq";
import type { Logger } from "pino";
import { JOB_NAMES, JOB_OPTIONS } from "@newsfeed/jobs";
import { claimDueFeeds, pruneFetches, type Db } from "@newsfeed/store";
import { scheduledFetches, schedulerErrors } from "./metrics.ts";

export interface SchedulerOptions {
  db: Db;
  fetchQueue: Queue;
  logger: Logger;
  /** How often to look for due feeds (ms). */
  intervalMs: number;
  /** Feeds claimed per round. */
  batchSize: number;
  /** How long a claimed feed stays claimed before it is due again if its fetch never ran (ms). */
  leaseMs: number;
  /** Fetch history older than this is deleted, once an hour (ms; absent: kept). */
  fetchRetentionMs?: number;
}

const PRUNE_EVERY_MS = 3_600_000;

/** Claims due feeds and queues one fetch job each; returns how many were queued. */
export async function scheduleDueFeeds(opts: Omit<SchedulerOptions, "intervalMs" | "logger">): Promise<number> {
  let total = 0;
  for (;;) {
    const now = new Date();
    const due = await claimDueFeeds(opts.db, { limit: opts.batchSize, leaseMs: opts.leaseMs, now });
    if (due.length === 0) return total;
    await opts.fetchQueue.addBulk(
      due.map((f) => ({
        name: JOB_NAMES.fetch,
        data: { feedId: f.id, dueAt: f.dueAt.toISOString() },
        opts: { ...JOB_OPTIONS.fetch, jobId: `fetch-${f.id}-${now.getTime()}` },
      })),
    );
    scheduledFetches.inc(due.length);
    total += due.length;
    if (due.length < opts.batchSize) return total;
  }
}

export interface Scheduler {
  /** Runs one round now (also what the timer runs). */
  tick(): Promise<number>;
  /** Stops the timer and waits for a round in progress; safe to call twice. */
  stop(): Promise<void>;
}

/** Runs scheduleDueFeeds every intervalMs until stopped. */
export function startScheduler(opts: SchedulerOptions): Scheduler {
  let running: Promise<number> | null = null;
  let stopped = false;
  let lastPrune = 0;
  const prune = async (): Promise<void> => {
    if (!opts.fetchRetentionMs || Date.now() - lastPrune < PRUNE_EVERY_MS) return;
    lastPrune = Date.now();
    const removed = await pruneFetches(opts.db, new Date(Date.now() - opts.fetchRetentionMs));
    if (removed) opts.logger.info({ removed }, "old fetch history pruned");
  };
  const tick = async (): Promise<number> => {
    if (running) return running;
    running = scheduleDueFeeds(opts)
      .then(async (n) => {
        await prune();
        return n;
      })
      .then((n) => {
        if (n) opts.logger.debug({ queued: n }, "due feeds queued");
        return n;
      })
      .catch((err: unknown) => {
        schedulerErrors.inc();
        opts.logger.error({ err }, "scheduler round failed");
        return 0;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = setInterval(() => void tick(), opts.intervalMs);
  void tick();
  return {
    tick,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (running) await running;
    },
  };
}

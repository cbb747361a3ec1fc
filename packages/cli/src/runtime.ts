/**
 * The process's connections and services, built from the config and closed in
 * order: schedulers, workers, queues, Redis, the Postgres pool.
 */
import { Queue, type Worker } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { QUEUES, queuePrefix as queuePrefixOf } from "@newsfeed/jobs";
import { assertSchemaCurrent, createDb, FeedLoader, FetchRecorder, refreshRollups, type DbHandle } from "@newsfeed/store";
import {
  closeHttp, createIngestWorker, DEFAULT_SCHEDULE, HostGate, parseHostBudgets, startScheduler, type PollDeps, type Scheduler,
} from "@newsfeed/ingest";
import { createDedupeWorker, FingerprintIndex, type DedupeDeps, type DedupeSettings } from "@newsfeed/dedupe";
import { splitList, type Config } from "./config.ts";

export interface Runtime {
  config: Config;
  logger: Logger;
  db: DbHandle;
  redis: Redis;
  queuePrefix: string;
  fetchQueue: Queue;
  itemsQueue: Queue;
  pollDeps: PollDeps;
  dedupeDeps: DedupeDeps;
  /** Closes everything this runtime opened, in order; safe to call twice. */
  close(): Promise<void>;
  /** Registers something to stop before the connections close. */
  onClose(fn: () => Promise<void>): void;
}

/** The fingerprint index as the dedupe worker configures it. */
export function createIndex(config: Config, redis: Redis, prefix = `${config.NEWSFEED_REDIS_PREFIX}:idx:`): FingerprintIndex {
  return new FingerprintIndex(redis, {
    prefix,
    windowMs: config.DEDUPE_WINDOW_HOURS * 3_600_000,
    minContainment: config.DEDUPE_MIN_CONTAINMENT,
    maxNumberMismatches: config.DEDUPE_MAX_NUMBER_MISMATCHES,
    mergeContainment: config.DEDUPE_MERGE_CONTAINMENT,
  });
}

/** Cleaning and fingerprint settings as the dedupe worker uses them. */
export function dedupeSettings(config: Config): DedupeSettings {
  return { shingleSize: config.DEDUPE_SHINGLE_SIZE, minWords: 12, chromeMinItems: config.DEDUPE_CHROME_MIN_ITEMS };
}

export function createRuntime(config: Config, logger: Logger): Runtime {
  const db = createDb(config.DATABASE_URL);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: false });
  redis.on("error", (err) => logger.warn({ err: err.message }, "redis connection error"));
  const queuePrefix = queuePrefixOf(config.NEWSFEED_REDIS_PREFIX);
  const fetchQueue = new Queue(QUEUES.fetch, { connection: redis, prefix: queuePrefix });
  const itemsQueue = new Queue(QUEUES.items, { connection: redis, prefix: queuePrefix });
  const index = createIndex(config, redis);
  const pollDeps: PollDeps = {
    db: db.db,
    itemsQueue,
    logger,
    feeds: new FeedLoader(db.db),
    recorder: new FetchRecorder(db.db),
    http: {
      timeoutMs: config.FETCH_TIMEOUT_MS, connectTimeoutMs: config.FETCH_CONNECT_TIMEOUT_MS, maxBytes: config.FETCH_MAX_BYTES,
      maxRedirects: config.FETCH_MAX_REDIRECTS, userAgent: config.USER_AGENT, allowPrivate: splitList(config.FETCH_ALLOW_PRIVATE),
    },
    hosts: new HostGate(redis, `${config.NEWSFEED_REDIS_PREFIX}:hosts:`, {
      perMinute: config.FETCH_HOST_BUDGET_PER_MINUTE,
      overrides: parseHostBudgets(config.FETCH_HOST_BUDGETS),
    }),
    forceIntervalMs: config.FETCH_FORCE_INTERVAL_H * 3_600_000,
    schedule: {
      ...DEFAULT_SCHEDULE,
      minIntervalMs: config.POLL_MIN_INTERVAL_S * 1000,
      maxIntervalMs: config.POLL_MAX_INTERVAL_S * 1000,
      defaultIntervalMs: config.POLL_DEFAULT_INTERVAL_S * 1000,
    },
  };
  const dedupeDeps: DedupeDeps = { db: db.db, index, settings: dedupeSettings(config) };
  const stoppers: (() => Promise<void>)[] = [];
  let closing: Promise<void> | undefined;
  return {
    config, logger, db, redis, queuePrefix, fetchQueue, itemsQueue, pollDeps, dedupeDeps,
    onClose: (fn) => void stoppers.push(fn),
    close: () =>
      (closing ??= (async () => {
        for (const stop of stoppers.reverse()) await stop().catch((err) => logger.error({ err }, "shutdown step failed"));
        await closeHttp(pollDeps.http).catch(() => {});
        await fetchQueue.close().catch(() => {});
        await itemsQueue.close().catch(() => {});
        await redis.quit().catch(() => redis.disconnect());
        await db.close();
      })()),
  };
}

export type Role = "ingest" | "dedupe" | "all";

export interface Services {
  scheduler?: Scheduler;
  workers: Worker[];
}

/** Starts the services of `role` on the runtime; refuses a schema that is behind. */
export async function startServices(rt: Runtime, role: Role): Promise<Services> {
  await assertSchemaCurrent(rt.db.pool);
  const services: Services = { workers: [] };
  if (role === "ingest" || role === "all") {
    const worker = createIngestWorker({
      connection: rt.redis, prefix: rt.queuePrefix, concurrency: rt.config.INGEST_CONCURRENCY,
      deps: rt.pollDeps, logger: rt.logger,
    });
    const scheduler = startScheduler({
      db: rt.db.db, fetchQueue: rt.fetchQueue, logger: rt.logger, intervalMs: rt.config.SCHEDULER_INTERVAL_MS,
      batchSize: 500, leaseMs: 10 * 60_000, fetchRetentionMs: rt.config.FETCH_RETENTION_DAYS * 86_400_000 || undefined,
    });
    services.scheduler = scheduler;
    services.workers.push(worker);
    rt.onClose(() => worker.close());
    rt.onClose(() => scheduler.stop());
    const minutes = rt.config.ANALYTICS_REFRESH_MINUTES;
    if (minutes > 0) rt.onClose(startRollupRefresh(rt, minutes * 60_000));
  }
  if (role === "dedupe" || role === "all") {
    const worker = createDedupeWorker({
      connection: rt.redis, prefix: rt.queuePrefix, concurrency: rt.config.DEDUPE_CONCURRENCY,
      deps: rt.dedupeDeps, logger: rt.logger,
    });
    services.workers.push(worker);
    rt.onClose(() => worker.close());
  }
  rt.logger.info({ role }, "newsfeed services started");
  return services;
}

/**
 * Refreshes the analytics rollups now and every `everyMs` (one process at a time: the others
 * find the lock taken and skip). Returns the stop function, which waits for a running refresh.
 */
export function startRollupRefresh(rt: Pick<Runtime, "db" | "logger">, everyMs: number): () => Promise<void> {
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return; // the last one is still going: skip this turn
    running = (async () => {
      const t0 = Date.now();
      try {
        const r = await refreshRollups(rt.db.pool);
        if (r.refreshed) rt.logger.info({ ms: Date.now() - t0, rollups: r.ms }, "analytics rollups refreshed");
        else rt.logger.debug("analytics rollups: another process is refreshing them");
      } catch (err) {
        rt.logger.warn({ err: (err as Error).message }, "analytics rollups refresh failed");
      } finally {
        running = undefined;
      }
    })();
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/** Waits for SIGINT/SIGTERM, then closes the runtime; a second signal exits at once. */
export function closeOnSignal(rt: Runtime): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      rt.logger.info({ signal }, "shutting down");
      void rt.close().then(resolve);
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  });
}

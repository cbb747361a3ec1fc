/**
 * The process's connections and services, built from the config and closed in
 * order (see Runtime.close): stop taking work and finish the jobs in hand (within
 * SHUTDOWN_TIMEOUT_MS), then the other services, the queues, Redis, the Postgres pool.
 */
import { Queue, type Job, type Worker } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { QUEUES, queuePrefix as queuePrefixOf } from "@newsfeed/jobs";
import { assertSchemaCurrent, createDb, FeedLoader, FetchRecorder, refreshRollups, type DbHandle } from "@newsfeed/store";
import {
  closeHttp, createIngestWorker, DEFAULT_SCHEDULE, HostGate, parseHostBudgets, startScheduler, type PollDeps, type Scheduler,
} from "@newsfeed/ingest";
import { createDedupeWorker, FingerprintIndex, type DedupeDeps, type DedupeSettings } from "@newsfeed/dedupe";
import { splitList, type Config } from "./config.ts";
import { drainAll, startServer, type ServiceServer } from "./server.ts";

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
  /**
   * Closes everything this runtime opened; safe to call twice (the second call gets the first's result).
   * 1. Drain: the onDrain hooks (scheduler stops claiming, /readyz turns not-ready, …) and every
   *    added worker's close() (stop fetching jobs, wait for the active ones) run at once, awaited
   *    for at most SHUTDOWN_TIMEOUT_MS. Past it, the jobs still active are logged as abandoned and
   *    left to BullMQ: their lock expires and another worker's stalled check retries them
   *    (both stages are idempotent, and a dedupe batch is one Postgres transaction: an abandoned
   *    one is rolled back when its connection goes, never half-written).
   * 2. The onClose functions, last registered first.
   * 3. The connections: HTTP agents, queues, Redis, the Postgres pool (waited for only briefly
   *    when jobs were abandoned: they may hold a pool client).
   */
  close(): Promise<ShutdownResult>;
  /** Registers something to stop after the workers drained and before the connections close. */
  onClose(fn: () => Promise<void>): void;
  /** Registers a step of the drain: called first at shutdown, awaited within the deadline. */
  onDrain(fn: () => unknown): void;
  /** Registers a BullMQ worker: closed (and waited for, within the deadline) during the drain. */
  addWorker(worker: Worker): void;
}

export interface ShutdownResult {
  /** The jobs still active when SHUTDOWN_TIMEOUT_MS passed (empty: everything in hand finished). */
  abandoned: { queue: string; id?: string; name: string; feedId?: number }[];
  /** The drain did not finish within SHUTDOWN_TIMEOUT_MS (jobs abandoned, or a drain step hung). */
  deadlinePassed: boolean;
  ms: number;
}

/** After a missed deadline, how long the connections get to close before close() resolves anyway. */
const ABANDON_GRACE_MS = 2_000;

const within = <T>(p: Promise<T>, ms: number): Promise<T | "timeout"> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms))),
  ]);
};

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
  const drainers: (() => unknown)[] = [];
  const workers: Worker[] = [];
  const active = new Map<string, Job>();
  const activeKey = (w: Worker, job: Job) => `${w.name}\u0000${job.id}`;
  const shutdown = async (): Promise<ShutdownResult> => {
    const t0 = Date.now();
    const deadlineMs = config.SHUTDOWN_TIMEOUT_MS;
    const step = (what: string) => (err: unknown) => logger.error({ err, step: what }, "shutdown step failed");
    // 1. Stop taking work, finish the jobs in hand.
    const drained = Promise.all([
      ...drainers.map((fn) => Promise.resolve().then(fn).catch(step("drain"))),
      ...workers.map((w) => w.close().catch(step(`close worker ${w.name}`))),
    ]);
    const inHand = active.size;
    const abandoned: ShutdownResult["abandoned"] = [];
    const deadlinePassed = (await within(drained, deadlineMs)) === "timeout";
    if (deadlinePassed) {
      for (const job of active.values()) {
        abandoned.push({ queue: job.queueName, id: job.id, name: job.name, feedId: (job.data as { feedId?: number })?.feedId });
      }
      logger.error(
        { deadlineMs, abandoned },
        "shutdown deadline passed: abandoning the jobs still active (BullMQ retries them once their lock expires)",
      );
    } else if (inHand) {
      logger.info({ jobs: inHand, ms: Date.now() - t0 }, "jobs in hand finished");
    }
    // 2. What else was started on the runtime, last first.
    for (const stop of stoppers.reverse()) await stop().catch(step("stop"));
    // 3. The connections.
    const connections = (async () => {
      await closeHttp(pollDeps.http).catch(() => {});
      await fetchQueue.close().catch(() => {});
      await itemsQueue.close().catch(() => {});
      await redis.quit().catch(() => redis.disconnect());
      await db.close();
    })();
    if (!deadlinePassed) await connections;
    else if ((await within(connections, ABANDON_GRACE_MS)) === "timeout") redis.disconnect();
    return { abandoned, deadlinePassed, ms: Date.now() - t0 };
  };
  let closing: Promise<ShutdownResult> | undefined;
  return {
    config, logger, db, redis, queuePrefix, fetchQueue, itemsQueue, pollDeps, dedupeDeps,
    onClose: (fn) => void stoppers.push(fn),
    onDrain: (fn) => void drainers.push(fn),
    addWorker: (worker) => {
      workers.push(worker);
      worker.on("active", (job) => void active.set(activeKey(worker, job), job));
      worker.on("completed", (job) => void active.delete(activeKey(worker, job)));
      worker.on("failed", (job) => void (job && active.delete(activeKey(worker, job))));
    },
    close: () => (closing ??= shutdown()),
  };
}

export type Role = "ingest" | "dedupe" | "all";

export interface Services {
  scheduler?: Scheduler;
  workers: Worker[];
  /** The /healthz, /readyz, /metrics server (server.ts), unless NEWSFEED_HTTP_PORT is 0. */
  http?: ServiceServer;
}

export interface StartOptions {
  /**
   * Port of the HTTP endpoints, overriding NEWSFEED_HTTP_PORT. Here 0 means an ephemeral
   * port (tests: services in parallel never clash), whereas NEWSFEED_HTTP_PORT=0 means no server.
   */
  httpPort?: number;
  /** Interface the endpoints listen on (default: all). */
  httpHost?: string;
}

/** Starts the services of `role` on the runtime; refuses a schema that is behind. */
export async function startServices(rt: Runtime, role: Role, opts: StartOptions = {}): Promise<Services> {
  await assertSchemaCurrent(rt.db.pool);
  const services: Services = { workers: [] };
  const httpPort = opts.httpPort ?? (rt.config.NEWSFEED_HTTP_PORT || undefined);
  if (httpPort !== undefined) {
    const server = await startServer(
      { pool: rt.db.pool, redis: rt.redis, queues: [rt.fetchQueue, rt.itemsQueue], logger: rt.logger },
      { port: httpPort, host: opts.httpHost },
    ).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot serve the HTTP endpoints on port ${httpPort} (${err.code ?? err.message}): set NEWSFEED_HTTP_PORT to a free port, or 0 for none`);
    });
    services.http = server;
    rt.onDrain(() => server.draining()); // /readyz answers 503 from the first step of the shutdown
    rt.onClose(() => server.close()); // registered first: the last service to stop
  }
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
    rt.addWorker(worker);
    rt.onDrain(() => scheduler.stop());
    const minutes = rt.config.ANALYTICS_REFRESH_MINUTES;
    if (minutes > 0) rt.onDrain(startRollupRefresh(rt, minutes * 60_000));
  }
  if (role === "dedupe" || role === "all") {
    const worker = createDedupeWorker({
      connection: rt.redis, prefix: rt.queuePrefix, concurrency: rt.config.DEDUPE_CONCURRENCY,
      deps: rt.dedupeDeps, logger: rt.logger,
    });
    services.workers.push(worker);
    rt.addWorker(worker);
  }
  rt.logger.info({ role, httpPort: services.http?.port }, "newsfeed services started");
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

/** After close() returned, how long the process may take to exit by itself before it is made to. */
const EXIT_GRACE_MS = 1_000;

/**
 * Waits for SIGINT/SIGTERM, then shuts down gracefully (Runtime.close) and resolves with the exit
 * code: 0 when every job in hand finished within SHUTDOWN_TIMEOUT_MS, 1 when the deadline passed (jobs
 * still active are abandoned, BullMQ retries them elsewhere). A second signal exits at once with 130. Should
 * the shutdown itself hang (a connection that never closes), the process exits 1 a few seconds
 * past the deadline; should something keep the event loop alive after it, the process exits
 * with the code anyway.
 */
export function closeOnSignal(rt: Runtime): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        rt.logger.warn({ signal }, "second signal: exiting at once");
        process.exit(130);
      }
      stopping = true;
      drainAll(); // /readyz answers 503 at once (startServices also drains its server in rt.close())
      const deadlineMs = rt.config.SHUTDOWN_TIMEOUT_MS;
      rt.logger.info({ signal, deadlineMs }, "shutting down: no new work, finishing the jobs in hand");
      const hang = setTimeout(() => {
        rt.logger.error({ deadlineMs }, "shutdown did not complete: exiting");
        process.exit(1);
      }, deadlineMs + ABANDON_GRACE_MS + 3_000);
      hang.unref();
      void rt.close().then((r) => {
        clearTimeout(hang);
        const code = r.deadlinePassed ? 1 : 0;
        rt.logger.info({ ms: r.ms, abandoned: r.abandoned.length, code }, "shut down");
        setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
        resolve(code);
      });
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  });
}

/**
 * The service process's HTTP endpoints (docs/observability.md):
 *
 *   GET /healthz  200 while the process's event loop runs (liveness)
 *   GET /readyz   200 when Postgres answers SELECT 1, Redis answers PING and the schema
 *                 matches this code's migrations, each check under a short timeout;
 *                 503 with a JSON body naming what failed otherwise, and 503 once the
 *                 server is draining (shutdown started)
 *   GET /metrics  Prometheus text format: prom-client's process-global registry (the
 *                 ingest and dedupe metrics, the newsfeed_-prefixed process metrics) plus
 *                 this server's collectors (queue depths and feeds by state, read on
 *                 scrape, cached a few seconds and bounded by a timeout)
 *
 * Draining, for the shutdown code: `server.draining()` on one server, or `drainAll()` on
 * every server of the process; startServices also drains its server as the first step of
 * `rt.close()`. A draining server keeps answering /healthz and /metrics until closed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type pg from "pg";
import type { Logger } from "pino";
import { collectDefaultMetrics, Gauge, register, Registry } from "prom-client";
import { schemaStatus } from "@newsfeed/store";

export interface ServerSources {
  /** Postgres: readiness (SELECT 1, schema version) and the feeds-by-state gauge. */
  pool: pg.Pool;
  /** Redis: readiness (PING). */
  redis: Redis;
  /** Queues whose job counts the newsfeed_queue_jobs gauge reports. */
  queues: readonly Queue[];
  logger: Logger;
}

export interface ServerOptions {
  /** TCP port; 0: an ephemeral port (tests). NEWSFEED_HTTP_PORT's "0 = no server" is startServices' business. */
  port: number;
  /** Interface to listen on (default: all). */
  host?: string;
  /** Each readiness check's timeout (default 2 s). */
  checkTimeoutMs?: number;
  /** How long queue and feed counts are reused between scrapes (default 5 s). */
  collectCacheMs?: number;
  /** How long a scrape waits for queue or feed counts before it reports without them (default 1.5 s). */
  collectTimeoutMs?: number;
}

export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
}

export interface Readiness {
  ready: boolean;
  status: "ready" | "not_ready" | "draining";
  /** Names of the failed checks ("draining" while draining). */
  failed: string[];
  checks: Record<"postgres" | "redis" | "schema", CheckResult> | Record<string, never>;
}

export interface ServiceServer {
  /** The port it listens on (the ephemeral one when asked for 0). */
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Marks the server draining: /readyz answers 503 from now on. Idempotent. */
  draining(): void;
  readonly isDraining: boolean;
  /** The readiness report /readyz serves. */
  readiness(): Promise<Readiness>;
  /** Stops listening and closes its connections; safe to call twice. */
  close(): Promise<void>;
}

const live = new Set<ServiceServer>();

/** Marks every server of this process draining (for the signal handler: call it first). */
export function drainAll(): void {
  for (const s of live) s.draining();
}

/** The prom-client default metrics (CPU, memory, event loop lag, GC, handles) as newsfeed_*, once per process. */
export function ensureDefaultMetrics(): void {
  if (register.getSingleMetric("newsfeed_process_cpu_user_seconds_total")) return;
  collectDefaultMetrics({ prefix: "newsfeed_" });
}

class TimeoutError extends Error {}

/** `p`, or a rejection after `ms`; the timer never holds the process open. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer in ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function check(what: string, ms: number, fn: () => Promise<string | undefined>): Promise<CheckResult> {
  const t0 = performance.now();
  try {
    const error = await withTimeout(fn(), ms, what);
    const elapsed = Math.round(performance.now() - t0);
    return error ? { ok: false, ms: elapsed, error } : { ok: true, ms: elapsed };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - t0), error: (err as Error).message || String(err) };
  }
}

/**
 * A loader whose result is reused for `ttlMs`; one load at a time (a slow one is shared by
 * the scrapes that arrive meanwhile), each wait bounded by `timeoutMs`. Undefined: no data.
 */
export function cachedLoader<T>(load: () => Promise<T>, ttlMs: number, timeoutMs: number, onError: (err: unknown) => void) {
  let last: { at: number; value: T } | undefined;
  let inflight: Promise<T> | undefined;
  return async (): Promise<T | undefined> => {
    if (last && Date.now() - last.at < ttlMs) return last.value;
    inflight ??= load()
      .then((value) => {
        last = { at: Date.now(), value };
        return value;
      })
      .finally(() => {
        inflight = undefined;
      });
    try {
      return await withTimeout(inflight, timeoutMs, "collect");
    } catch (err) {
      onError(err);
      return undefined;
    }
  };
}

const QUEUE_STATES = ["waiting", "active", "delayed", "prioritized", "paused", "failed", "completed"] as const;
const FEED_STATES = ["active", "paused", "gone"];

/** This server's collectors: queue depths and feeds by state, each with an "up" gauge. */
function collectorRegistry(src: ServerSources, opts: Required<Pick<ServerOptions, "collectCacheMs" | "collectTimeoutMs">>): Registry {
  const local = new Registry();
  const warn = (collector: string) => (err: unknown) =>
    src.logger.debug({ collector, err: (err as Error).message }, "metrics collector failed");
  const queueCounts = cachedLoader(
    async () =>
      Promise.all(src.queues.map(async (q) => ({ queue: q.name, counts: await q.getJobCounts(...QUEUE_STATES) }))),
    opts.collectCacheMs, opts.collectTimeoutMs, warn("queues"),
  );
  const feedCounts = cachedLoader(
    async () => {
      const { rows } = await src.pool.query<{ state: string; n: number }>(
        "SELECT state, count(*)::int AS n FROM feeds GROUP BY state",
      );
      const out = new Map(FEED_STATES.map((s) => [s, 0]));
      for (const r of rows) out.set(r.state, r.n);
      return out;
    },
    opts.collectCacheMs, opts.collectTimeoutMs, warn("feeds"),
  );
  new Gauge({
    name: "newsfeed_queue_jobs",
    help: "Jobs in each BullMQ queue (fetch, items) by state, read on scrape (cached a few seconds)",
    labelNames: ["queue", "state"] as const,
    registers: [local],
    async collect() {
      this.reset();
      const all = await queueCounts();
      for (const { queue, counts } of all ?? []) {
        for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
    },
  });
  new Gauge({
    name: "newsfeed_feeds",
    help: "Feeds by state (active, paused, gone), read from Postgres on scrape (cached a few seconds)",
    labelNames: ["state"] as const,
    registers: [local],
    async collect() {
      this.reset();
      const counts = await feedCounts();
      for (const [state, n] of counts ?? []) this.set({ state }, n);
    },
  });
  // Its own collect (a registry collects its metrics concurrently); the loads are shared.
  new Gauge({
    name: "newsfeed_collector_up",
    help: "1 when the scrape got the collector's counts (queues: Redis, feeds: Postgres), 0 when they timed out or failed",
    labelNames: ["collector"] as const,
    registers: [local],
    async collect() {
      const [queues, feeds] = await Promise.all([queueCounts(), feedCounts()]);
      this.set({ collector: "queues" }, queues ? 1 : 0);
      this.set({ collector: "feeds" }, feeds ? 1 : 0);
    },
  });
  return local;
}

/** Starts the endpoints; rejects when the port cannot be bound (EADDRINUSE, EACCES). */
export async function startServer(src: ServerSources, opts: ServerOptions): Promise<ServiceServer> {
  ensureDefaultMetrics();
  const checkTimeoutMs = opts.checkTimeoutMs ?? 2_000;
  const local = collectorRegistry(src, {
    collectCacheMs: opts.collectCacheMs ?? 5_000,
    collectTimeoutMs: opts.collectTimeoutMs ?? 1_500,
  });
  let draining = false;

  const readiness = async (): Promise<Readiness> => {
    if (draining) return { ready: false, status: "draining", failed: ["draining"], checks: {} };
    const [postgres, redis, schema] = await Promise.all([
      check("postgres", checkTimeoutMs, async () => {
        await src.pool.query("SELECT 1");
        return undefined;
      }),
      check("redis", checkTimeoutMs, async () => {
        // Not connected: fail at once rather than queue a PING behind the reconnection.
        if (src.redis.status !== "ready") return `redis connection is ${src.redis.status}`;
        const pong = await src.redis.ping();
        return pong === "PONG" ? undefined : `unexpected PING answer ${JSON.stringify(pong)}`;
      }),
      check("schema", checkTimeoutMs, async () => {
        const s = await schemaStatus(src.pool);
        if (s.upToDate) return undefined;
        return s.applied < s.expected
          ? `schema is behind: ${s.applied} of ${s.expected} migrations applied (run \`pnpm newsfeed migrate\`)`
          : `schema is newer than this code: ${s.applied} migrations applied, this code knows ${s.expected}`;
      }),
    ]);
    const checks = { postgres, redis, schema };
    const failed = Object.entries(checks).filter(([, c]) => !c.ok).map(([name]) => name);
    return { ready: failed.length === 0, status: failed.length ? "not_ready" : "ready", failed, checks };
  };

  const send = (res: ServerResponse, code: number, type: string, body: string) => {
    res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
    res.end(body);
  };
  const json = (res: ServerResponse, code: number, body: unknown) =>
    send(res, code, "application/json; charset=utf-8", `${JSON.stringify(body)}\n`);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return json(res, 405, { error: "method not allowed" });
    }
    switch (path) {
      case "/healthz":
        return json(res, 200, { status: "ok", draining });
      case "/readyz": {
        const r = await readiness();
        if (!r.ready) src.logger.debug({ failed: r.failed, checks: r.checks }, "not ready");
        return json(res, r.ready ? 200 : 503, r);
      }
      case "/metrics": {
        const text = await Registry.merge([register, local]).metrics();
        return send(res, 200, register.contentType, text);
      }
      default:
        return json(res, 404, { error: "not found", endpoints: ["/healthz", "/readyz", "/metrics"] });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      src.logger.error({ err, path: req.url }, "http endpoint failed");
      if (!res.headersSent) json(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000; // longer than Prometheus' default scrape interval
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => src.logger.error({ err }, "http server error"));
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const self: ServiceServer = {
    port,
    url: `http://127.0.0.1:${port}`,
    draining() {
      if (!draining) src.logger.info({ port }, "draining: /readyz now answers 503");
      draining = true;
    },
    get isDraining() {
      return draining;
    },
    readiness,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        draining = true;
        live.delete(self);
        server.close(() => resolve());
        server.closeIdleConnections();
        // A scrape in flight gets a second to finish.
        setTimeout(() => server.closeAllConnections(), 1_000).unref();
      })),
  };
  live.add(self);
  src.logger.info({ port, endpoints: ["/healthz", "/readyz", "/metrics"] }, "http endpoints listening");
  return self;
}

/**
 * pnpm bench:poll [--feeds 100000] [--hosts 100] [--interval 80] [--seconds 60] [--warmup 20] [--concurrency 64]
 *
 * Simulates F feeds on H local hosts (bench/poll-server.mjs, a process of its
 * own: mostly 304s, some 200s with new items, some 500s, 429s and 2-second
 * answers), each due every --interval seconds, against the real scheduler and
 * ingest worker (`run ingest`'s services, in this process) on a scratch
 * database and Redis prefix. After a warm-up it prints sustained fetches/s and
 * the scheduler lag (a fetch's start minus the time its feed was due) over the
 * measured window. In the same run, as a reference, the raw rate of the same
 * local server for plain GETs (undici, same concurrency, no queue, no database).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import type { Job } from "bullmq";
import { runMigrations } from "@newsfeed/store";
import { createLogger, createRuntime, loadConfig, startServices } from "@newsfeed/cli";
import { args, deleteKeys, intOf, scratchDatabase } from "./lib.ts";

const USAGE =
  "usage: pnpm bench:poll [--feeds 100000] [--hosts 100] [--interval 80] [--seconds 60] [--warmup 20] [--concurrency 64]";
const a = args(
  {
    feeds: { type: "string", default: "100000" },
    hosts: { type: "string", default: "100" },
    interval: { type: "string", default: "80" },
    seconds: { type: "string", default: "60" },
    warmup: { type: "string", default: "20" },
    concurrency: { type: "string", default: "64" },
  },
  USAGE,
);
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
const FEEDS = intOf("feeds", a.feeds);
const HOSTS = intOf("hosts", a.hosts);
const INTERVAL_S = intOf("interval", a.interval);
const SECONDS = intOf("seconds", a.seconds);
const WARMUP = intOf("warmup", a.warmup);
const CONCURRENCY = intOf("concurrency", a.concurrency);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]! : NaN);

/** The publisher, in a child process; resolves with its ports. */
async function startPublisher(): Promise<{ ports: number[]; stop(): void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL("./poll-server.mjs", import.meta.url)), String(HOSTS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ports = await new Promise<number[]>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`publisher exited with ${code}`)));
    child.stdout.once("data", (d: Buffer) => resolve((JSON.parse(d.toString().split("\n")[0]!) as { ports: number[] }).ports));
  });
  return { ports, stop: () => child.kill() };
}

/** Reference: plain GETs of steady feeds (304s with the right ETag) at the same concurrency, for `ms`. */
async function rawRate(ports: number[], ms: number): Promise<number> {
  const agent = new Agent({ keepAliveTimeout: 60_000, connections: 8 });
  let done = 0;
  const end = Date.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = w; Date.now() < end; i += CONCURRENCY) {
        const n = (i * 100) % FEEDS; // n % 100 == 0: a steady feed
        const res = await request(`http://127.0.0.1:${ports[n % ports.length]}/feed/${n}`, {
          dispatcher: agent, headers: { "if-none-match": `"${n}-v1"` },
        });
        await res.body.dump();
        done++;
      }
    }),
  );
  const rate = done / ((performance.now() - t0) / 1000);
  await agent.close();
  return rate;
}

const publisher = await startPublisher();
const scratch = scratchDatabase("nf_bench_poll");
const prefix = `nf-bench-poll-${randomBytes(4).toString("hex")}`;
console.log(
  `bench:poll — ${FEEDS.toLocaleString("en")} feeds on ${HOSTS} local hosts, each due every ${INTERVAL_S} s ` +
    `(${Math.round(FEEDS / INTERVAL_S)} fetches/s offered); ingest concurrency ${CONCURRENCY}; node ${process.version}`,
);
try {
  await runMigrations(scratch.url);
  const perHostPerMinute = Math.ceil((FEEDS / HOSTS / INTERVAL_S) * 60);
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: scratch.url,
    NEWSFEED_REDIS_PREFIX: prefix,
    LOG_LEVEL: "error",
    INGEST_CONCURRENCY: String(CONCURRENCY),
    SCHEDULER_INTERVAL_MS: "250",
    POLL_MIN_INTERVAL_S: String(INTERVAL_S),
    POLL_MAX_INTERVAL_S: String(INTERVAL_S),
    POLL_DEFAULT_INTERVAL_S: String(INTERVAL_S),
    FETCH_TIMEOUT_MS: "10000",
    FETCH_ALLOW_PRIVATE: "127.0.0.1",
    // Twice each host's offered rate: the budget is exercised on every fetch but does not bind.
    FETCH_HOST_BUDGET_PER_MINUTE: String(2 * perHostPerMinute),
  });
  const rt = createRuntime(config, createLogger(config.LOG_LEVEL));
  try {
    // Feeds in steady state, as on a server that has been polling them: fetched one interval ago
    // (the steady ones hold the publisher's ETag, so they get 304s), and due evenly over the next
    // interval, so that the offered rate is steady from the start.
    const t0 = Date.now();
    await rt.db.pool.query(
      `INSERT INTO feeds (url, next_check_at, etag, last_checked_at, last_success_at, last_forced_at)
       SELECT 'http://127.0.0.1:' || ($1::int[])[1 + n % $2] || '/feed/' || n,
              to_timestamp(($3::bigint + (n::bigint * $4::bigint * 1000) / $5) / 1000.0),
              CASE WHEN n % 100 < 85 AND n % 1000 <> 999 THEN '"' || n || '-v1"' END,
              to_timestamp($3::bigint / 1000.0 - $4), to_timestamp($3::bigint / 1000.0 - $4), to_timestamp($3::bigint / 1000.0)
         FROM generate_series(0, $5 - 1) AS n`,
      [publisher.ports, HOSTS, t0, INTERVAL_S, FEEDS],
    );
    console.log(`  ${FEEDS.toLocaleString("en")} feeds inserted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const services = await startServices(rt, "ingest");
    // A fetch is a job that made a request (ok, not_modified, error); a deferral (host budget or
    // Retry-After hold) is not one, and its lag is not a fetch's lag.
    const lags: { at: number; lag: number }[] = [];
    const outcomes = new Map<string, number>();
    services.workers[0]!.on("completed", (job: Job, result: { outcome: string }) => {
      outcomes.set(result.outcome, (outcomes.get(result.outcome) ?? 0) + 1);
      if (result.outcome === "deferred" || result.outcome === "skipped") return;
      const due = (job.data as { dueAt?: string }).dueAt;
      if (due && job.processedOn) lags.push({ at: job.processedOn, lag: job.processedOn - Date.parse(due) });
    });
    const start = Date.now();
    const measureFrom = start + WARMUP * 1000;
    const measureTo = measureFrom + SECONDS * 1000;
    let lastPrint = start;
    while (Date.now() < measureTo) {
      await sleep(1000);
      if (Date.now() - lastPrint >= 10_000) {
        lastPrint = Date.now();
        const recent = lags.filter((l) => l.at > lastPrint - 10_000);
        const sorted = recent.map((l) => l.lag).sort((x, y) => x - y);
        const phase = lastPrint < measureFrom ? "warm-up" : "measuring";
        console.log(`  … ${phase} ${Math.round((lastPrint - start) / 1000)} s: ${(recent.length / 10).toFixed(0)} fetches/s, lag p50 ${(quantile(sorted, 0.5) / 1000).toFixed(2)} s, max ${(quantile(sorted, 1) / 1000).toFixed(2)} s`);
      }
    }
    const window = lags.filter((l) => l.at >= measureFrom && l.at < measureTo);
    const sorted = window.map((l) => l.lag).sort((x, y) => x - y);
    const rate = window.length / SECONDS;
    await Promise.all(services.workers.map((w) => w.pause()));
    await services.scheduler?.stop();
    const reference = await rawRate(publisher.ports, 10_000);
    console.log(`\nsustained over ${SECONDS} s after ${WARMUP} s of warm-up:`);
    console.log(`  fetches/s            ${rate.toFixed(0)} (goal ≥ 1,000)`);
    console.log(`  scheduler lag        p50 ${(quantile(sorted, 0.5) / 1000).toFixed(2)} s, p95 ${(quantile(sorted, 0.95) / 1000).toFixed(2)} s, p99 ${(quantile(sorted, 0.99) / 1000).toFixed(2)} s, max ${(quantile(sorted, 1) / 1000).toFixed(2)} s (goal < 5 s)`);
    console.log(`  outcomes (whole run) ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(", ")}`);
    console.log(`  reference: the same server, plain GETs (304), no queue or database: ${reference.toFixed(0)} requests/s; ratio ${(rate / reference).toFixed(2)}`);
  } finally {
    await deleteKeys(rt.redis, prefix).catch(() => {});
    await rt.close();
  }
} finally {
  publisher.stop();
  await scratch.drop();
}

/**
 * pnpm bench:e2e [--feeds F] [--items I] [--words W] [--workers N]
 *
 * Serves F feeds × I items from a local HTTP server, runs the whole pipeline
 * (scheduler → ingest worker → items queue → dedupe worker → Postgres) in this
 * process on a scratch database and Redis prefix, and prints items/s from the
 * start of the services to the last item row in Postgres. In the same run it
 * measures BullMQ's own rate for as many no-op jobs, added with addBulk and
 * processed by one worker, and prints the ratio of the two.
 *
 * With --workers N (N ≥ 2) it also runs the pipeline as separate OS processes, the way it is
 * deployed (`newsfeed run ingest` and `newsfeed run dedupe`, sharing only Postgres and Redis),
 * once with 1 process of each kind and once with N of each, each on a fresh database and
 * Redis prefix: the clock starts when the feeds are added (every process already started)
 * and stops at the last item row. It prints both rates and their ratio, and the 1-minute load
 * average before and after (benches on a shared machine: read the figures with it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { addFeed, runMigrations, createDb } from "@newsfeed/store";
import { createLogger, createRuntime, loadConfig, startServices } from "@newsfeed/cli";


import { args, article, deleteKeys, intOf, REDIS_URL, rng, scratchDatabase, vocabulary } from "./lib.ts";

const USAGE =
  "usage: pnpm bench:e2e [--feeds 200] [--items 50] [--words 300] [--noop-concurrency 50] [--workers 1] [--only pipeline|noop (for profiling)]";
const a = args(
  {
    feeds: { type: "string", default: "200" },
    items: { type: "string", default: "50" },
    words: { type: "string", default: "300" },
    "noop-concurrency": { type: "string", default: "50" },
    workers: { type: "string", default: "1" },
    only: { type: "string", default: "" },
  },
  USAGE,
);
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
const F = intOf("feeds", a.feeds);
const I = intOf("items", a.items);
const W = intOf("words", a.words);
const NOOP_CONCURRENCY = intOf("noop-concurrency", a["noop-concurrency"]);
const WORKERS = intOf("workers", a.workers);
const N = F * I;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Feeds drawing from a pool of wire stories (about 4 copies each), lightly edited per outlet. */
function buildFeeds(): { bodies: string[]; stories: number } {
  const rand = rng(7);
  const vocab = vocabulary(5000, rand);
  const stories = Math.max(1, Math.ceil(N / 4));
  const pool = Array.from({ length: stories }, () => article(vocab, W, rand));
  const bodies: string[] = [];
  const drawn = new Set<number>();
  for (let f = 0; f < F; f++) {
    const items: string[] = [];
    for (let i = 0; i < I; i++) {
      const s = (f * I + i) % stories === 0 ? 0 : Math.floor(rand() * stories);
      drawn.add(s);
      const paras = [...pool[s]!];
      if (f % 2) paras[0] = `CITY, Nov 27 (Wire) - ${paras[0]}`;
      if (f % 3 === 0) paras.push(`Follow outlet ${f} for more.`);
      const published = new Date(Date.UTC(2026, 10, 27, 0, 0) + (f * I + i) * 1000).toUTCString();
      items.push(`<item><title>Story ${s} at outlet ${f}</title><link>http://outlet${f}.example/${i}</link>
<guid>outlet${f}-${i}</guid><pubDate>${published}</pubDate><description>${esc(paras.map((p) => `<p>${p}</p>`).join(""))}</description></item>`);
    }
    bodies.push(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Outlet ${f}</title><link>http://outlet${f}.example/</link>
${items.join("\n")}</channel></rss>`);
  }
  return { bodies, stories: drawn.size };
}

async function bullmqNoop(prefix: string): Promise<number> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue("noop", { connection, prefix });
  let done = 0;
  const worker = new Worker("noop", async () => {}, { connection, prefix, concurrency: NOOP_CONCURRENCY });
  worker.on("completed", () => void done++);
  await worker.waitUntilReady();
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const n = Math.min(1000, N - i);
    await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: "noop", data: { i: i + k }, opts: { removeOnComplete: true } })));
  }
  while (done < N) await sleep(5);
  const seconds = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  return seconds;
}

async function pipeline(baseUrl: string, dbUrl: string, prefix: string): Promise<{ seconds: number; stories: number }> {
  await runMigrations(dbUrl);
  const seed = createDb(dbUrl, { max: 1 });
  for (let f = 0; f < F; f++) await addFeed(seed.db, { url: `${baseUrl}/f/${f}.xml` });
  await seed.close();
  const config = loadConfig({ ...process.env, DATABASE_URL: dbUrl, REDIS_URL, NEWSFEED_REDIS_PREFIX: prefix, LOG_LEVEL: "warn", SCHEDULER_INTERVAL_MS: "200", ...LOCAL_FEEDS });
  const rt = createRuntime(config, createLogger("warn", { pretty: false }));
  const t0 = performance.now();
  await startServices(rt, "all");
  let count = 0;
  let lastPrint = t0;
  let fetchedAt = 0;
  while (count < N) {
    await sleep(20);
    const r = (await rt.db.pool.query("SELECT (SELECT count(*) FROM items) AS n, (SELECT count(*) FROM fetches) AS f")).rows[0];
    count = Number(r.n);
    if (!fetchedAt && Number(r.f) >= F) {
      fetchedAt = performance.now();
      process.stderr.write(`  all ${F} feeds fetched after ${((fetchedAt - t0) / 1000).toFixed(2)} s\n`);
    }
    if (performance.now() - lastPrint > 2000) {
      lastPrint = performance.now();
      process.stderr.write(`  … ${count}/${N} items stored\n`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const stories = Number((await rt.db.pool.query("SELECT count(*) AS n FROM stories")).rows[0].n);
  await rt.close();
  return { seconds, stories };
}

/**
 * The feeds are served from 127.0.0.1 (refused by the SSRF guard unless allowed), all from one
 * host:port (held to FETCH_HOST_BUDGET_PER_MINUTE unless lifted): the bench measures the pipeline.
 */
const LOCAL_FEEDS = { FETCH_ALLOW_PRIVATE: "127.0.0.1", FETCH_HOST_BUDGET_PER_MINUTE: "0" };
const MAIN = fileURLToPath(new URL("../packages/cli/src/main.ts", import.meta.url));
const TSX_LOADER = new URL("../node_modules/tsx/dist/loader.mjs", import.meta.url).href;

/** `perKind` ingest and `perKind` dedupe processes on a fresh database and prefix; items/s from the feeds' insertion. */
async function processes(baseUrl: string, perKind: number): Promise<{ seconds: number; stories: number }> {
  const db = scratchDatabase("nf_bench_e2e_p");
  const prefix = `nf-bench-${randomBytes(4).toString("hex")}`;
  const procs: ChildProcess[] = [];
  try {
    await runMigrations(db.url);
    const env = {
      ...process.env, DATABASE_URL: db.url, REDIS_URL, NEWSFEED_REDIS_PREFIX: prefix, LOG_LEVEL: "info",
      SCHEDULER_INTERVAL_MS: "200", NEWSFEED_HTTP_PORT: "0", NEWSFEED_SAMPLE: "false",
      ANALYTICS_REFRESH_MINUTES: "0", ...LOCAL_FEEDS,
    };
    const started: Promise<void>[] = [];
    for (const role of ["ingest", "dedupe"]) {
      for (let i = 0; i < perKind; i++) {
        const p = spawn(process.execPath, ["--import", TSX_LOADER, MAIN, "run", role], { env, stdio: ["ignore", "pipe", "inherit"] });
        procs.push(p);
        started.push(
          new Promise((resolve, reject) => {
            let log = "";
            p.stdout!.on("data", (d: Buffer) => {
              log += d.toString();
              if (log.includes("newsfeed services started")) resolve();
            });
            p.once("exit", (code) => reject(new Error(`newsfeed run ${role} exited ${code} before starting:\n${log}`)));
          }),
        );
      }
    }
    await Promise.all(started);
    const seed = createDb(db.url, { max: 2 });
    try {
      const t0 = performance.now();
      for (let f = 0; f < F; f++) await addFeed(seed.db, { url: `${baseUrl}/f/${f}.xml` });
      let count = 0;
      let lastPrint = t0;
      while (count < N) {
        await sleep(20);
        count = Number((await seed.pool.query("SELECT count(*) AS n FROM items")).rows[0].n);
        if (performance.now() - lastPrint > 2000) {
          lastPrint = performance.now();
          process.stderr.write(`  … ${perKind}+${perKind} processes: ${count}/${N} items stored\n`);
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      const stories = Number((await seed.pool.query("SELECT count(*) AS n FROM stories")).rows[0].n);
      return { seconds, stories };
    } finally {
      await seed.close();
    }
  } finally {
    await Promise.all(
      procs.map((p) =>
        p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => (p.once("exit", r), p.kill("SIGTERM")))),
    );
    const redis = new Redis(REDIS_URL);
    await deleteKeys(redis, prefix);
    await redis.quit();
    await db.drop();
  }
}

const { bodies, stories: expectedStories } = buildFeeds();
const server = createServer((req, res) => {
  const m = /^\/f\/(\d+)\.xml$/.exec(req.url ?? "");
  const body = m ? bodies[Number(m[1])] : undefined;
  if (!body) return void res.writeHead(404).end();
  res.writeHead(200, { "content-type": "application/rss+xml; charset=utf-8" }).end(body);
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const db = scratchDatabase("nf_bench_e2e");
const prefix = `nf-bench-${randomBytes(4).toString("hex")}`;
console.log(`bench:e2e — ${F} feeds × ${I} items (${N} items, ${W} words each, ${expectedStories} distinct stories), node ${process.version}`);
try {
  const noopSeconds = a.only === "pipeline" ? NaN : await bullmqNoop(`${prefix}-noop`);
  const p = a.only === "noop" ? { seconds: NaN, stories: NaN } : await pipeline(baseUrl, db.url, prefix);
  const rate = N / p.seconds;
  const noopRate = N / noopSeconds;
  const rows = [
    ["newsfeed pipeline: fetch → parse → dedupe → Postgres (items)", N, p.seconds, rate],
    [`BullMQ no-op jobs, addBulk + 1 worker × ${NOOP_CONCURRENCY} (jobs)`, N, noopSeconds, noopRate],
  ] as const;
  console.log(`\n${"what".padEnd(64)}  ${"count".padStart(7)}  ${"seconds".padStart(8)}  ${"per second".padStart(10)}`);
  for (const [what, n, s, r] of rows) {
    console.log(`${what.padEnd(64)}  ${String(n).padStart(7)}  ${s.toFixed(2).padStart(8)}  ${r.toFixed(0).padStart(10)}`);
  }
  console.log(`\nratio (pipeline items/s ÷ BullMQ no-op jobs/s): ${(rate / noopRate).toFixed(2)}   (goal ≥ 1.00)`);
  console.log(`stories: ${p.stories} (the feeds carry ${expectedStories} distinct stories)`);
  if (WORKERS > 1) {
    const load0 = loadavg()[0]!;
    const one = await processes(baseUrl, 1);
    const many = await processes(baseUrl, WORKERS);
    const load1 = loadavg()[0]!;
    console.log(`\nseparate processes (newsfeed run ingest / run dedupe), one Redis, one Postgres:`);
    console.log(`${"what".padEnd(64)}  ${"count".padStart(7)}  ${"seconds".padStart(8)}  ${"per second".padStart(10)}`);
    for (const [k, r] of [[1, one], [WORKERS, many]] as const) {
      const what = `${k} ingest + ${k} dedupe process${k > 1 ? "es" : ""} (items; stories ${r.stories})`;
      console.log(`${what.padEnd(64)}  ${String(N).padStart(7)}  ${r.seconds.toFixed(2).padStart(8)}  ${(N / r.seconds).toFixed(0).padStart(10)}`);
    }
    console.log(`\nratio (${WORKERS}+${WORKERS} ÷ 1+1 processes, items/s): ${(one.seconds / many.seconds).toFixed(2)}`);
    console.log(`load average (1 min) before/after the process runs: ${load0.toFixed(2)} / ${load1.toFixed(2)}, ${cpus().length} CPUs`);
  }
} finally {
  server.close();
  const redis = new Redis(REDIS_URL);
  await deleteKeys(redis, prefix);
  await redis.quit();
  await db.drop();
}

/**
 * pnpm bench:soak [--minutes 10] [--rate 20] [--feeds 50] …
 *
 * Runs `newsfeed run ingest` and `newsfeed run dedupe` as child processes on a private Postgres 15
 * cluster and a private Redis (AOF on, as infra/) for a fixed time, while F local feeds publish
 * new items at a fixed total rate (each feed shows its latest --window items; stories are
 * reprinted in about --copies feeds). Every --sample seconds it records items stored per second,
 * the backlog (published − stored), queue depths, the RSS of every service process
 * (/proc/<pid>/status VmRSS) and Redis memory (INFO used_memory, split into the dedupe index's
 * keys and the rest with MEMORY USAGE), prints a table, and a verdict:
 *
 *   PASS when, for every service process and for Redis without the dedupe index, the median over
 *   the last 20% of the run exceeds the median just after warm-up (the --warmup% .. --warmup+20%
 *   of the run) by less than max(--bound-mib MiB, --bound-pct %). The dedupe index grows with
 *   the fingerprints in its window (DEDUPE_WINDOW_HOURS, 72 h: none expire in a soak) by design:
 *   it is reported as bytes per fingerprint, which must not grow either.
 *
 * Exit 1 on FAIL, 2 on bad flags. Never touches the shared servers on 5432/6379.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { addFeed, createDb } from "@newsfeed/store";
import { args, article, intOf, rng, vocabulary } from "./lib.ts";
import {
  cleanupNow, logSummary, MiB, migrate, PrivatePostgres, PrivateRedis, QueueProbe, rssOf, serviceEnv, ServiceProc, sleep,
  type UnexpectedExit,
} from "./chaos-lib.ts";

const USAGE = `usage: pnpm bench:soak [options]
  --minutes 10      how long the pipeline runs (decimals allowed, e.g. 0.5)
  --rate 20         new items per second over all feeds
  --feeds 50        local feeds
  --window 20       items each feed shows (its latest)
  --words 150       words per article
  --copies 4        copies per story (consecutive items, in different feeds)
  --sample 10       seconds between samples
  --warmup 20       % of the run treated as warm-up
  --bound-pct 10    allowed growth after warm-up, % …
  --bound-mib 16    … or MiB, whichever is larger
  --ingest 1        ingest processes
  --dedupe 1        dedupe processes
  --seed 1          seed of the articles
  --logs DIR        where the service logs go (default /tmp/newsfeed-soak-<pid>)`;
const a = args(
  {
    minutes: { type: "string", default: "10" },
    rate: { type: "string", default: "20" },
    feeds: { type: "string", default: "50" },
    window: { type: "string", default: "20" },
    words: { type: "string", default: "150" },
    copies: { type: "string", default: "4" },
    sample: { type: "string", default: "10" },
    warmup: { type: "string", default: "20" },
    "bound-pct": { type: "string", default: "10" },
    "bound-mib": { type: "string", default: "16" },
    ingest: { type: "string", default: "1" },
    dedupe: { type: "string", default: "1" },
    seed: { type: "string", default: "1" },
    logs: { type: "string", default: "" },
  } as const,
  USAGE,
);
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
const bad = (msg: string): never => {
  console.error(`${msg}\n${USAGE}`);
  process.exit(2);
};
const num = (name: string, text: string, min: number, max: number) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) bad(`--${name} must be a number in ${min}..${max}, got '${text}'`);
  return n;
};
const MINUTES = num("minutes", a.minutes, 0.1, 24 * 60);
const RATE = num("rate", a.rate, 0.1, 10_000);
const F = intOf("feeds", a.feeds);
const WINDOW = intOf("window", a.window);
const WORDS = intOf("words", a.words);
const COPIES = intOf("copies", a.copies);
const SAMPLE_S = num("sample", a.sample, 1, 3600);
const WARMUP = num("warmup", a.warmup, 0, 60) / 100;
const BOUND_PCT = num("bound-pct", a["bound-pct"], 0, 1000);
const BOUND_MIB = num("bound-mib", a["bound-mib"], 0, 1_000_000);
const N_INGEST = intOf("ingest", a.ingest);
const N_DEDUPE = intOf("dedupe", a.dedupe);
const SEED = intOf("seed", a.seed);
if (COPIES > F) bad("--copies must be ≤ --feeds (copies go to different feeds)");
if (WORDS < 40) bad("--words must be ≥ 40");
const DURATION_MS = MINUTES * 60_000;
const LOGS = a.logs || `/tmp/newsfeed-soak-${process.pid}`;
mkdirSync(LOGS, { recursive: true });
const PREFIX = "nfsoak";

/* ------------------------------------------------------------- the feeds */

const vocab = vocabulary(5000, rng(SEED));
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const itemXml = new Map<number, string>();
let t0 = 0;
/** Items published so far: item i appears at i / rate seconds; it goes to feed i % F. */
const published = () => (t0 ? Math.floor(((Date.now() - t0) / 1000) * RATE) : 0);
function xmlOf(i: number): string {
  let x = itemXml.get(i);
  if (x) return x;
  const s = Math.floor(i / COPIES);
  const f = i % F;
  const paras = article(vocab, WORDS, rng(SEED * 1_000_003 + s));
  if (f % 2) paras[0] = `CITY (Wire) - ${paras[0]}`;
  const when = new Date(t0 + (i / RATE) * 1000).toUTCString();
  x = `<item><title>Story ${s} at outlet ${f}</title><link>http://outlet${f}.example/${i}</link><guid isPermaLink="false">soak-${i}</guid><pubDate>${when}</pubDate><description>${esc(paras.map((p) => `<p>${p}</p>`).join(""))}</description></item>`;
  itemXml.set(i, x);
  // Bounded: only what the feeds still show is kept.
  itemXml.delete(i - 2 * F * WINDOW);
  return x;
}
const requests = { ok: 0, notModified: 0 };
const server = createServer((req, res) => {
  const m = /^\/f\/(\d+)\.xml$/.exec(req.url ?? "");
  const f = m ? Number(m[1]) : -1;
  if (!(f >= 0 && f < F)) return void res.writeHead(404).end();
  const n = published();
  const latest = n - 1 - ((((n - 1 - f) % F) + F) % F); // the largest i < n with i % F == f
  const etag = `"${f}-${latest}"`;
  if (req.headers["if-none-match"] === etag) {
    requests.notModified++;
    return void res.writeHead(304, { etag }).end();
  }
  requests.ok++;
  const items: string[] = [];
  for (let i = latest, k = 0; i >= 0 && k < WINDOW; i -= F, k++) items.push(xmlOf(i));
  res.writeHead(200, { "content-type": "application/rss+xml; charset=utf-8", etag }).end(
    `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Outlet ${f}</title><link>http://outlet${f}.example/</link>${items.join("\n")}</channel></rss>`,
  );
});
server.keepAliveTimeout = 60_000;

/* ------------------------------------------------------------- sampling */

interface Sample {
  t: number;
  published: number;
  stored: number;
  perS: number;
  fetch: string;
  items: string;
  rss: (number | null)[];
  redisUsed: number;
  redisIdx: number;
  fingerprints: number;
  redisKeys: number;
}

/** Redis memory of the dedupe index's keys and the count of keys, by SCAN + MEMORY USAGE. */
async function indexBytes(probe: QueueProbe): Promise<{ idx: number; keys: number }> {
  let cursor = "0";
  let idx = 0;
  do {
    const [next, keys] = await probe.redis.scan(cursor, "MATCH", `${PREFIX}:idx:*`, "COUNT", 2000);
    cursor = next;
    if (keys.length) {
      const p = probe.redis.pipeline();
      for (const k of keys) p.memory("USAGE", k);
      for (const [, v] of (await p.exec()) ?? []) idx += Number(v ?? 0);
    }
  } while (cursor !== "0");
  return { idx, keys: await probe.redis.dbsize() };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};

/* ------------------------------------------------------------------ main */

console.log(`bench:soak — ${MINUTES} min at ${RATE} items/s over ${F} local feeds (window ${WINDOW}, ${WORDS} words, ${COPIES} copies per story); ` +
  `${N_INGEST} ingest + ${N_DEDUPE} dedupe process(es); sample every ${SAMPLE_S} s; node ${process.version}`);
console.log(`bound: after the first ${WARMUP * 100}% (warm-up), the median of the last 20% of samples may exceed the median of the ${WARMUP * 100}–${WARMUP * 100 + 20}% samples by less than max(${BOUND_MIB} MiB, ${BOUND_PCT}%) — per service process RSS, and for Redis used_memory without the dedupe index`);
console.log(`service logs: ${LOGS}`);
let exitCode = 0;
try {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pgServer = new PrivatePostgres("nf-soak");
  await pgServer.init();
  const dbUrl = await pgServer.createDatabase("nf_soak");
  const redis = new PrivateRedis("nf-soak");
  await redis.start();
  console.log(`private Postgres 15 on :${pgServer.port}, private Redis on :${redis.port} (AOF on, noeviction), feeds at ${baseUrl}`);
  const env = serviceEnv(dbUrl, redis.url, PREFIX);
  migrate(env);
  const seedDb = createDb(dbUrl, { max: 1 });
  for (let f = 0; f < F; f++) await addFeed(seedDb.db, { url: `${baseUrl}/f/${f}.xml` });
  await seedDb.close();

  const unexpected: UnexpectedExit[] = [];
  const procs: ServiceProc[] = [];
  let stopping = false;
  const onUnexpected = (e: UnexpectedExit) => {
    unexpected.push(e);
    console.log(`FINDING: ${e.name} exited by itself (code ${e.code}): ${e.lastLines.slice(-3).join(" | ")} — restarting`);
    if (!stopping) setTimeout(() => procs.find((p) => p.name === e.name)?.start(), 1000);
  };
  for (let i = 0; i < N_INGEST; i++) procs.push(new ServiceProc(`ingest#${i + 1}`, "ingest", env, join(LOGS, `ingest-${i + 1}.log`), onUnexpected));
  for (let i = 0; i < N_DEDUPE; i++) procs.push(new ServiceProc(`dedupe#${i + 1}`, "dedupe", env, join(LOGS, `dedupe-${i + 1}.log`), onUnexpected));
  for (const p of procs) p.start();
  t0 = Date.now();

  const mon = new pg.Pool({ connectionString: dbUrl, max: 1 });
  const probe = new QueueProbe(redis.url, PREFIX);
  const samples: Sample[] = [];
  const head =
    `${"t (s)".padStart(6)} ${"published".padStart(9)} ${"stored".padStart(7)} ${"items/s".padStart(7)} ${"backlog".padStart(7)} ` +
    `${"fetch w/a".padStart(9)} ${"items w/a".padStart(9)} ${procs.map((p) => `${p.name} MiB`.padStart(15)).join(" ")} ` +
    `${"redis MiB".padStart(9)} ${"index MiB".padStart(9)} ${"B/fp".padStart(6)}`;
  const line = (s: Sample) =>
    `${(s.t / 1000).toFixed(0).padStart(6)} ${String(s.published).padStart(9)} ${String(s.stored).padStart(7)} ${s.perS.toFixed(1).padStart(7)} ` +
    `${String(s.published - s.stored).padStart(7)} ${s.fetch.padStart(9)} ${s.items.padStart(9)} ` +
    `${s.rss.map((r) => (r === null ? "-" : MiB(r).toFixed(1)).padStart(15)).join(" ")} ${MiB(s.redisUsed).toFixed(2).padStart(9)} ` +
    `${MiB(s.redisIdx).toFixed(2).padStart(9)} ${(s.fingerprints ? s.redisIdx / s.fingerprints : 0).toFixed(0).padStart(6)}`;
  console.log(`\n${head}`);
  let prevStored = 0;
  let prevT = 0;
  for (let k = 1; ; k++) {
    const due = t0 + k * SAMPLE_S * 1000;
    if (due > t0 + DURATION_MS + 1) break;
    await sleep(Math.max(0, due - Date.now()));
    const t = Date.now() - t0;
    const stored = Number((await mon.query("SELECT count(*) AS n FROM items")).rows[0].n);
    const q = await probe.counts();
    const info = await probe.redis.info("memory");
    const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
    const { idx, keys } = await indexBytes(probe);
    const fps = Number((await probe.redis.get(`${PREFIX}:idx:seq`)) ?? 0);
    const s: Sample = {
      t, published: Math.min(published(), Math.floor((t / 1000) * RATE)), stored, perS: ((stored - prevStored) * 1000) / (t - prevT),
      fetch: `${q.fetch.waiting}/${q.fetch.active}`, items: `${q.items.waiting}/${q.items.active}`,
      rss: procs.map((p) => rssOf(p.pid)), redisUsed: used, redisIdx: idx, fingerprints: fps, redisKeys: keys,
    };
    prevStored = stored;
    prevT = t;
    samples.push(s);
    console.log(line(s));
  }
  stopping = true;
  const final = await probe.counts();
  await Promise.all(procs.map((p) => p.stop()));
  await probe.close();
  await mon.end();

  // Verdict.
  const n = samples.length;
  const after = samples.filter((s) => s.t >= WARMUP * DURATION_MS && s.t < (WARMUP + 0.2) * DURATION_MS);
  const last = samples.filter((s) => s.t >= 0.8 * DURATION_MS);
  console.log(`\n=== what was tried\n${MINUTES} min, ${RATE} items/s offered over ${F} feeds: ${samples[n - 1]?.published ?? 0} items published, ${requests.ok} feed responses × 200, ${requests.notModified} × 304`);
  console.log("\n=== what was found");
  let pass = true;
  if (after.length < 1 || last.length < 1) {
    console.log(`too few samples (${n}) for a verdict: run longer or sample more often`);
    pass = false;
  }
  const check = (what: string, pick: (s: Sample) => number | null) => {
    const x = median(after.map(pick).filter((v): v is number => v !== null));
    const y = median(last.map(pick).filter((v): v is number => v !== null));
    const max = Math.max(...samples.map(pick).filter((v): v is number => v !== null));
    const bound = Math.max(BOUND_MIB * 1048576, (x * BOUND_PCT) / 100);
    const ok = Number.isFinite(x) && Number.isFinite(y) && y - x < bound;
    if (!ok) pass = false;
    console.log(`${what.padEnd(34)} after warm-up ${MiB(x).toFixed(1).padStart(7)} MiB, end ${MiB(y).toFixed(1).padStart(7)} MiB, growth ${(MiB(y - x) >= 0 ? "+" : "") + MiB(y - x).toFixed(1)} MiB (bound ${MiB(bound).toFixed(1)} MiB), max ${MiB(max).toFixed(1)} MiB: ${ok ? "ok" : "GROWS"}`);
  };
  procs.forEach((p, i) => check(`RSS ${p.name}${p.starts > 1 ? ` (restarted ${p.starts - 1}×)` : ""}`, (s) => s.rss[i] ?? null));
  check("Redis used_memory − dedupe index", (s) => s.redisUsed - s.redisIdx);
  const bpf = (s: Sample) => (s.fingerprints ? s.redisIdx / s.fingerprints : NaN);
  const bx = median(after.map(bpf));
  const by = median(last.map(bpf));
  const idxOk = !(by > bx * 1.1);
  if (!idxOk) pass = false;
  const lastS = samples[n - 1];
  console.log(`dedupe index (grows with the window)  ${lastS ? `${lastS.fingerprints} fingerprints in ${MiB(lastS.redisIdx).toFixed(2)} MiB` : "-"}; bytes per fingerprint after warm-up ${bx.toFixed(0)}, at the end ${by.toFixed(0)} (must not grow > 10%): ${idxOk ? "ok" : "GROWS"}`);
  console.log(`Redis keys at the end: ${lastS?.redisKeys ?? 0}; used_memory ${MiB(lastS?.redisUsed ?? 0).toFixed(2)} MiB`);
  const steady = samples.filter((s) => s.t >= WARMUP * DURATION_MS);
  const throughput = steady.length > 1 ? ((steady[steady.length - 1]!.stored - steady[0]!.stored) * 1000) / (steady[steady.length - 1]!.t - steady[0]!.t) : NaN;
  const backlogs = steady.map((s) => s.published - s.stored);
  console.log(`throughput after warm-up: ${throughput.toFixed(1)} items/s stored (offered ${RATE}); backlog (published − stored) median ${median(backlogs).toFixed(0)}, max ${Math.max(...backlogs, 0)}, at the end ${backlogs[backlogs.length - 1] ?? 0} items` +
    ` (${median(backlogs) < RATE * 30 ? "keeps up" : "does NOT keep up: backlog over 30 s of items"}; informational, not part of the verdict)`);
  console.log(`queues at the end: fetch ${JSON.stringify(final.fetch)}, items ${JSON.stringify(final.items)}`);
  if (final.items.failed) {
    pass = false;
    console.log(`FINDING: ${final.items.failed} failed items job(s): items lost unless replayed`);
  }
  for (const e of unexpected) console.log(`FINDING: ${e.name} exited by itself (code ${e.code}): ${e.lastLines.slice(-2).join(" | ")}`);
  if (unexpected.length) pass = false;
  const logs = new Map<string, number>();
  for (const p of procs) for (const [k, c] of logSummary(p.logPath)) logs.set(k, (logs.get(k) ?? 0) + c);
  console.log(`service log messages at warn and above: ${logs.size ? [...logs].map(([k, c]) => `${c} × ${k}`).join("; ") : "none"}`);
  console.log(`\nverdict: ${pass ? "PASS" : "FAIL"} — memory ${pass ? "flat" : "not flat (or a failure above)"} after warm-up within max(${BOUND_MIB} MiB, ${BOUND_PCT}%)`);
  if (!pass) exitCode = 1;
} catch (err) {
  console.error(`bench:soak failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  server.closeAllConnections();
  server.close();
  cleanupNow();
}
process.exit(exitCode);

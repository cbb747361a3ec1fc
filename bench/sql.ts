/**
 * pnpm bench:sql [--items 1000000] [--stories 300000] [--feeds 500] [--days 30] [--runs 5] [--body-bytes 6800]
 *                [--analyst-settings name=value,…] [--plans DIR] [--keep]
 *
 * Seeds a scratch database (all migrations) with ITEMS items in about STORIES stories from FEEDS
 * feeds over the last DAYS days, with fetches, merges and broken feeds (bench/sql-seed.ts says
 * how), in set-based SQL, then VACUUM ANALYZE. Prints the tables' sizes, then runs every
 * docs/sql/*.sql as the role newsfeed_analyst (1 warm-up + RUNS timed; the median, wall time at
 * the client) and EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) once, reporting sequential scans of
 * tables over 100,000 rows. The issue's goal: every windowed query (one that uses now()) under
 * 100 ms, none scanning items or story_items sequentially. Reference, same run: a full scan,
 * SELECT count(*) FROM items.
 *
 * Before the queries it refreshes the analytics rollups (the 7-day materialized views the
 * ingest service refreshes every ANALYTICS_REFRESH_MINUTES) and prints how long each took; a
 * query of a rollup counts as windowed (its window is the 7 days before the refresh).
 * docs/sql/any-window/ holds the same reports over the views, for any window: timed too.
 * --analyst-settings "name=value,…" SETs settings in the analyst's session (e.g. jit=off,
 * random_page_cost=1.1) and measures every query again (bench/sql-experiments.ts).
 * --plans DIR writes each query's plan as JSON. --keep leaves the database for psql; Ctrl-C drops it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { refreshRollups, ROLLUPS, runMigrations } from "@newsfeed/store";
import { article, intOf, rng, scratchDatabase, vocabulary } from "./lib.ts";
import { describeScans, explain, printSizes, tableSizes, timeQuery, type PlanFacts } from "./sql-measure.ts";
import { parseSettings } from "./sql-experiments.ts";
import { checkSeed } from "./sql-check.ts";
import { seed, storySizes } from "./sql-seed.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SQL_DIR = join(ROOT, "docs/sql");
const CORPUS = resolve(ROOT, "../shared/data/dedupe/dev.jsonl");
const LARGE = 100_000;
const GOAL_MS = 100;
const USAGE =
  "usage: pnpm bench:sql [--items 1000000] [--stories 300000] [--feeds 500] [--days 30] [--runs 5] [--body-bytes 6800] " +
  "[--analyst-settings name=value,…] [--plans DIR] [--keep]";

let a: Record<string, string | boolean | undefined>;
try {
  a = parseArgs({
    options: {
      items: { type: "string", default: "1000000" }, stories: { type: "string", default: "300000" },
      feeds: { type: "string", default: "500" }, days: { type: "string", default: "30" }, runs: { type: "string", default: "5" },
      "body-bytes": { type: "string", default: "6800" }, "analyst-settings": { type: "string", default: "" },
      plans: { type: "string", default: "" }, keep: { type: "boolean", default: false }, help: { type: "boolean", default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
const ITEMS = intOf("items", a.items as string);
const STORIES = intOf("stories", a.stories as string);
const FEEDS = intOf("feeds", a.feeds as string);
const DAYS = intOf("days", a.days as string);
const RUNS = intOf("runs", a.runs as string);
const BODY = Number(a["body-bytes"]);
const usage = (msg: string): never => {
  console.error(`${msg}\n${USAGE}`);
  process.exit(2);
};
if (!Number.isInteger(BODY) || BODY < 0 || BODY > 16 << 20) usage(`--body-bytes must be a whole number from 0 to 16777216, got '${String(a["body-bytes"])}'`);
if (STORIES > ITEMS) usage(`--stories (${STORIES}) cannot exceed --items (${ITEMS}): every story has a copy`);
if (DAYS > 3650) usage(`--days must be at most 3650, got ${DAYS}`);
const queryFiles = existsSync(SQL_DIR)
  ? readdirSync(SQL_DIR, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".sql")).sort()
  : [];
if (queryFiles.length === 0) usage(`no queries: ${SQL_DIR} holds no .sql file`);
const parsedSettings = a["analyst-settings"] ? parseSettings(a["analyst-settings"] as string) : [];
const SETTINGS = typeof parsedSettings === "string" ? usage(parsedSettings) : parsedSettings;
const PLANS = a.plans ? resolve(a.plans as string) : "";
if (PLANS) {
  try {
    mkdirSync(PLANS, { recursive: true });
  } catch (err) {
    usage(`cannot create --plans ${PLANS}: ${(err as Error).message}`);
  }
}

const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const fmtN = (n: number) => Math.round(n).toLocaleString("en");
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const pad = (s: string, n: number) => s.padEnd(n);

/** Base articles: the wire-reprint benchmark's texts when present, else synthetic ones of similar length. */
function loadCorpus(): { docs: { title: string; text: string }[]; source: string } {
  if (existsSync(CORPUS)) {
    const docs = readFileSync(CORPUS, "utf8").split("\n").filter(Boolean).map((l, i) => {
      try {
        const d = JSON.parse(l) as { title?: unknown; text?: unknown };
        return { title: typeof d.title === "string" ? d.title : "", text: typeof d.text === "string" ? d.text : "" };
      } catch (err) {
        return usage(`${CORPUS}:${i + 1}: not JSON (${(err as Error).message})`);
      }
    }).filter((d) => d.title && d.text);
    if (docs.length) return { docs, source: `${docs.length.toLocaleString("en")} base articles of ${CORPUS}` };
  }
  const rand = rng(7);
  const vocab = vocabulary(5000, rand);
  const docs = Array.from({ length: 4000 }, () => {
    // Log-normal-ish word counts: about the benchmark's characters (median ~750, mean ~1,100).
    const words = Math.max(20, Math.round(Math.exp(4.4 + 0.85 * (rand() + rand() + rand() - 1.5) * 2)));
    return { title: article(vocab, 7, rand).join(" ").replace(/\.$/, ""), text: article(vocab, words, rand).join("\n\n") };
  });
  return { docs, source: `4,000 synthetic articles (${CORPUS} not found)` };
}

const scratch = scratchDatabase("nf_bench_sql");
// Output piped into a reader that quits early (| head): carry on, so that the database is still dropped.
process.stdout.on("error", () => {});
let dropping: Promise<void> | null = null;
const dropOnce = () => (dropping ??= scratch.drop());
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (dropping) return;
    console.error(`\n${sig}: dropping the scratch database`);
    dropOnce().then(
      () => process.exit(130),
      (err: unknown) => {
        console.error(`could not drop it: ${(err as Error).message}`);
        process.exit(130);
      },
    );
  });
}

const corpus = loadCorpus();
const sizes = storySizes(ITEMS, STORIES, FEEDS, rng(42));
console.log(
  `bench:sql — ${fmtN(ITEMS)} items in ${fmtN(sizes.length)} stories (asked ${fmtN(STORIES)}) from ${fmtN(FEEDS)} feeds ` +
    `over ${DAYS} days; texts: ${corpus.source}; archived bodies ${fmtN(BODY)} bytes on average; node ${process.version}`,
);
const url = new URL(scratch.url);
let pool: pg.Pool | null = null;
try {
  await runMigrations(scratch.url);
  pool = new pg.Pool({ connectionString: scratch.url, max: 4, application_name: "bench-sql" });
  // Ctrl-C drops the database under open connections: their errors are expected then.
  pool.on("error", () => {});
  const admin = await pool.connect();
  admin.on("error", () => {});
  try {
    const server = await admin.query<{ v: string; s: string; w: string; p: string; j: string }>(
      `SELECT current_setting('server_version') v, current_setting('shared_buffers') s, current_setting('work_mem') w,
              current_setting('max_parallel_workers_per_gather') p, current_setting('jit') j`,
    );
    const sv = server.rows[0]!;
    console.log(`  PostgreSQL ${sv.v}: shared_buffers ${sv.s}, work_mem ${sv.w}, max_parallel_workers_per_gather ${sv.p}, jit ${sv.j}`);
    console.log(`\nseeding ${url.pathname.slice(1)}:`);
    const t0 = performance.now();
    await seed(pool, { items: ITEMS, stories: STORIES, feeds: FEEDS, days: DAYS, bodyBytes: BODY, corpus: corpus.docs }, sizes, (s) =>
      console.log(`  ${pad(s.what, 40)} ${(s.ms / 1000).toFixed(1)} s`),
    );
    const seededS = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await admin.query("VACUUM ANALYZE");
    const vacuumS = (performance.now() - t1) / 1000;
    console.log(`  seeded in ${seededS.toFixed(1)} s, then VACUUM ANALYZE ${vacuumS.toFixed(1)} s`);
    for (const line of await checkSeed(admin)) console.log(`  ${line}`);

    const sizesNow = await tableSizes(admin, ["items", "story_items", "stories", "story_merges", "fetches", "feeds"]);
    await printSizes(admin, sizesNow, LARGE);

    const large = await admin.query<{ relname: string; n: number }>(
      `SELECT relname, reltuples::float8 AS n FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace`,
    );
    const big = new Set(large.rows.filter((r) => r.n > LARGE).map((r) => r.relname));
    const refresh = await refreshRollups(pool);
    console.log(
      `\nanalytics rollups refreshed (REFRESH MATERIALIZED VIEW CONCURRENTLY, as the ingest service does): ` +
        ROLLUPS.map((r) => `${r} ${fmtMs(refresh.ms[r] ?? NaN)} ms`).join(", "),
    );
    await admin.query(`ANALYZE ${ROLLUPS.join(", ")}`);
    const analyst = await pool.connect();
    analyst.on("error", () => {});
    try {
      await analyst.query("SET ROLE newsfeed_analyst");
      const stage = async (title: string, planPrefix: string, plans: boolean, baseline?: QueryResult[]) => {
        const load = loadavg()[0]!;
        const ref = await timeQuery(admin, "SELECT count(*) FROM items", RUNS);
        const rs = await runQueries(analyst, big, planPrefix);
        printResults(title, rs, ref.medianMs, [load, loadavg()[0]!], plans, baseline);
        return rs;
      };
      const experiments: { flag: string; apply: () => Promise<void> }[] = [];
      if (SETTINGS.length) {
        experiments.push({
          flag: `--analyst-settings ${SETTINGS.map(([k, v]) => `${k}=${v}`).join(",")}`,
          apply: async () => {
            for (const [k, v] of SETTINGS) await analyst.query(`SET ${k} = '${v}'`);
            console.log(`  in the analyst's session: ${SETTINGS.map(([k, v]) => `SET ${k} = '${v}'`).join("; ")}`);
          },
        });
      }
      const baseline = await stage("docs/sql as newsfeed_analyst", "", true);
      const applied: string[] = [];
      for (const [n, x] of experiments.entries()) {
        console.log(`\nexperiment ${x.flag} (scratch database only; not in the migrations):`);
        await x.apply();
        applied.push(x.flag);
        const last = n === experiments.length - 1;
        await stage(`docs/sql as newsfeed_analyst, with ${applied.join(" + ")}`, `${n + 1}-`, last, baseline);
      }
    } finally {
      analyst.release();
    }
  } finally {
    admin.release();
  }
  if (a.keep) console.log(`\nkept: psql ${scratch.url}   (drop it with: DROP DATABASE ${url.pathname.slice(1)})`);
} catch (err) {
  if (dropping) {
    // Interrupted: the signal handler drops the database and exits.
    await new Promise(() => {});
  }
  console.error(`bench:sql: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await pool?.end().catch(() => {});
  if (!a.keep && !dropping) await dropOnce();
}

interface QueryResult {
  file: string;
  windowed: boolean;
  medianMs: number;
  times: number[];
  rows: number;
  largeSeq: string[];
  facts: PlanFacts;
}

async function runQueries(c: pg.PoolClient, big: Set<string>, planPrefix: string): Promise<QueryResult[]> {
  const out: QueryResult[] = [];
  for (const file of queryFiles) {
    const sql = readFileSync(join(SQL_DIR, file), "utf8");
    const run = await timeQuery(c, sql, RUNS);
    const facts = await explain(c, sql.trim().replace(/;\s*$/, ""));
    if (PLANS) writeFileSync(join(PLANS, `${planPrefix}${file.replace(/\.sql$/, "").replace(/\//g, "__")}.json`), JSON.stringify(facts.plan, null, 2));
    const largeSeq = [...new Set(facts.scans.filter((s) => s.node === "Seq Scan" && big.has(s.relation))
      .map((s) => `${s.parallel ? "Parallel Seq Scan " : ""}${s.relation}`))];
    // A windowed query has a window relative to now() or reads a rollup of the last 7 days (comments aside).
    const code = sql.replace(/--[^\n]*/g, "");
    const windowed = /\bnow\(\)/i.test(code) || ROLLUPS.some((r) => code.includes(r));
    out.push({ file, windowed, medianMs: run.medianMs, times: run.times, rows: run.rows, largeSeq, facts });
  }
  return out;
}

function verdict(r: QueryResult): string {
  const scansHot = r.largeSeq.some((s) => /\b(items|story_items)$/.test(s));
  const slow = r.windowed && r.medianMs >= GOAL_MS;
  if (!slow && !scansHot) return r.windowed ? "meets" : "meets (not windowed: no time goal)";
  return `MISSES (${[slow ? `≥ ${GOAL_MS} ms` : "", scansHot ? "seq scan of items/story_items" : ""].filter(Boolean).join(", ")})`;
}

function printResults(title: string, rs: QueryResult[], refMs: number, load: number[], plans: boolean, before?: QueryResult[]): void {
  console.log(`\n${title} (1 warm-up + ${RUNS} timed runs each; median wall time at the client):`);
  const w = Math.max(...rs.map((r) => r.file.length));
  console.log(`  ${pad("query", w)}  ${"median ms".padStart(9)}${before ? "  (baseline)" : ""}  ${"rows".padStart(6)}  ${pad("seq scans of tables > 100k rows", 34)}  goal`);
  for (const r of rs) {
    const b = before?.find((x) => x.file === r.file);
    console.log(
      `  ${pad(r.file, w)}  ${fmtMs(r.medianMs).padStart(9)}${b ? `  ${`(${fmtMs(b.medianMs)})`.padStart(10)}` : ""}  ${fmtN(r.rows).padStart(6)}  ` +
        `${pad(r.largeSeq.join(", ") || "none", 34)}  ${verdict(r)}`,
    );
  }
  const met = rs.filter((r) => verdict(r).startsWith("meets")).length;
  console.log(`  ${met} of ${rs.length} meet the goal; reference, same run: SELECT count(*) FROM items (a full scan) ${fmtMs(refMs)} ms`);
  console.log(`  load average (1 min) ${load.map((l) => l.toFixed(2)).join(" → ")} on ${cpus().length} cores, before → after`);
  if (!plans) return;
  console.log(`\n  plans (EXPLAIN ANALYZE once; server execution time; access paths by table):`);
  for (const r of rs) {
    const jit = r.facts.jitMs !== null ? `, JIT ${fmtMs(r.facts.jitMs)} ms` : "";
    console.log(`  ${r.file}: execution ${fmtMs(r.facts.executionMs)} ms, planning ${fmtMs(r.facts.planningMs)} ms${jit}`);
    for (const line of describeScans(r.facts.scans)) console.log(`      ${line}`);
  }
}

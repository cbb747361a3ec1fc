/**
 * pnpm bench:chaos [--seed S] [--feeds 100] [--items 50] [--reveal 120] [--kills 12] …
 *
 * Runs the pipeline twice over the same local workload (F feeds × I items revealed over
 * --reveal seconds, reprints across feeds), each time on a fresh database of a private
 * Postgres 15 cluster and a fresh private Redis (AOF on, everysec, noeviction, as infra/):
 *
 *   1. undisturbed: `newsfeed run ingest` × --ingest and `newsfeed run dedupe` × --dedupe as
 *      child processes, until the end state (every feed polled after its last item appeared,
 *      queues empty, item count steady);
 *   2. chaos: the same, while ingest and dedupe processes are SIGKILLed at random moments
 *      (seeded; each restarted after 0–3 s), Postgres is stopped (-m fast) and restarted once
 *      and Redis is shut down (AOF written) and restarted once.
 *
 * Then it compares the rows (items by feed, identity key and content hash; memberships by item;
 * stories as the sets of their copies) and prints `lost N, duplicated M`; exit 1 unless both are
 * 0 (exit 2 on bad flags). The undisturbed run is also checked against the generator's ground
 * truth (the clusters the workload was built from), which shows the comparison is deterministic.
 * Never touches the shared servers on 5432/6379.
 */
import { randomInt } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { addFeed, createDb } from "@newsfeed/store";
import { args, intOf, rng } from "./lib.ts";
import {
  cleanupNow, logSummary, migrate, PrivatePostgres, PrivateRedis, QueueProbe, serviceEnv, ServiceProc, sleep, stamp,
  type UnexpectedExit,
} from "./chaos-lib.ts";
import { buildWorkload, feedPath, serveWorkload, type Workload } from "./chaos-feeds.ts";

const USAGE = `usage: pnpm bench:chaos [options]
  --seed S            seed of the workload and of the chaos plan (default: random, printed)
  --feeds 100         local feeds
  --items 50          items per feed (feeds × items ≥ 5000 for the issue's run)
  --words 200         words per article
  --copies 4          average copies per story (reprints across feeds)
  --reveal 120        seconds over which the feeds reveal their items (the chaos happens meanwhile)
  --kills 12          SIGKILLs of service processes during the reveal (≥ 10 for the issue's run)
  --ingest 2          ingest processes (newsfeed run ingest)
  --dedupe 2          dedupe processes (newsfeed run dedupe)
  --down 3            seconds each server stays down when restarted (Postgres once, Redis once)
  --settle 120        seconds to wait for the end state after the reveal before reporting stuck feeds
  --nudge yes|no      after --settle, make feeds that still wait on a claim lease due now, as an operator
                      would (reported as a finding; no: wait the lease out, up to 11 minutes)
  --baselines 1       undisturbed runs (2: also checks that two undisturbed runs agree; 0: compare the
                      chaos run with the generator's ground truth only)
  --logs DIR          where the service logs go (default /tmp/newsfeed-chaos-<seed>)`;

const a = args(
  {
    seed: { type: "string", default: "" },
    feeds: { type: "string", default: "100" },
    items: { type: "string", default: "50" },
    words: { type: "string", default: "200" },
    copies: { type: "string", default: "4" },
    reveal: { type: "string", default: "120" },
    kills: { type: "string", default: "12" },
    ingest: { type: "string", default: "2" },
    dedupe: { type: "string", default: "2" },
    down: { type: "string", default: "3" },
    settle: { type: "string", default: "120" },
    nudge: { type: "string", default: "yes" },
    baselines: { type: "string", default: "1" },
    logs: { type: "string", default: "" },
  } as const,
  USAGE,
);
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
const bad = (msg: string) => {
  console.error(`${msg}\n${USAGE}`);
  process.exit(2);
};
const SEED = a.seed === "" ? randomInt(1, 2 ** 31 - 1) : intOf("seed", a.seed);
const F = intOf("feeds", a.feeds);
const I = intOf("items", a.items);
const W = intOf("words", a.words);
const COPIES = intOf("copies", a.copies);
const REVEAL_MS = intOf("reveal", a.reveal) * 1000;
const KILLS = Number(a.kills);
if (!Number.isInteger(KILLS) || KILLS < 0) bad(`--kills must be a whole number ≥ 0, got '${a.kills}'`);
const N_INGEST = intOf("ingest", a.ingest);
const N_DEDUPE = intOf("dedupe", a.dedupe);
const DOWN_MS = Number(a.down) * 1000;
if (!Number.isFinite(DOWN_MS) || DOWN_MS < 0 || DOWN_MS > 120_000) bad(`--down must be seconds in 0..120, got '${a.down}'`);
const SETTLE_MS = intOf("settle", a.settle) * 1000;
if (a.nudge !== "yes" && a.nudge !== "no") bad(`--nudge must be yes or no, got '${a.nudge}'`);
const NUDGE = a.nudge === "yes";
const BASELINES = Number(a.baselines);
if (!Number.isInteger(BASELINES) || BASELINES < 0 || BASELINES > 3) bad(`--baselines must be 0..3, got '${a.baselines}'`);
if (W < 40) bad("--words must be ≥ 40 (shorter texts are fingerprinted with their titles, which differ per outlet)");
const LOGS = a.logs || `/tmp/newsfeed-chaos-${SEED}`;
mkdirSync(LOGS, { recursive: true });
const N = F * I;

/* ------------------------------------------------------------ snapshots */

interface Snapshot {
  /** "<feed path>|<identity key>|<content hash>" → count */
  items: Map<string, number>;
  /** "<feed path>|<identity key>" → memberships of that item */
  members: Map<string, number>;
  /** story id → sorted member keys ("<feed path>|<identity key>") */
  clusters: Map<number, string[]>;
  /** live (not merged) stories without a member, and stories whose `copies` disagrees with story_items */
  emptyStories: number;
  badCopies: number;
  merges: number;
}

async function snapshot(dbUrl: string): Promise<Snapshot> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  const path = (u: string) => new URL(u).pathname;
  const items = new Map<string, number>();
  for (const r of (await c.query(`SELECT f.url, i.identity_key, i.content_hash FROM items i JOIN feeds f ON f.id = i.feed_id`)).rows) {
    const k = `${path(r.url)}|${r.identity_key}|${r.content_hash}`;
    items.set(k, (items.get(k) ?? 0) + 1);
  }
  const members = new Map<string, number>();
  const clusters = new Map<number, string[]>();
  const mrows = await c.query(
    `SELECT si.story_id, f.url, i.identity_key FROM story_items si JOIN items i ON i.id = si.item_id JOIN feeds f ON f.id = i.feed_id`,
  );
  for (const r of mrows.rows) {
    const k = `${path(r.url)}|${r.identity_key}`;
    members.set(k, (members.get(k) ?? 0) + 1);
    const id = Number(r.story_id);
    clusters.set(id, [...(clusters.get(id) ?? []), k]);
  }
  for (const list of clusters.values()) list.sort();
  const s = (
    await c.query(`SELECT
      count(*) FILTER (WHERE s.merged_into_id IS NULL AND NOT EXISTS (SELECT 1 FROM story_items x WHERE x.story_id = s.id)) AS empty,
      count(*) FILTER (WHERE s.merged_into_id IS NULL AND s.copies <> (SELECT count(*) FROM story_items x WHERE x.story_id = s.id)) AS bad,
      (SELECT count(*) FROM story_merges) AS merges
      FROM stories s`)
  ).rows[0];
  await c.end();
  return { items, members, clusters, emptyStories: Number(s.empty), badCopies: Number(s.bad), merges: Number(s.merges) };
}

/** The generator's ground truth as a snapshot (every item once, clusters = source stories). */
function truthSnapshot(w: Workload, contentHashes: Map<string, string>): Snapshot {
  const items = new Map<string, number>();
  const members = new Map<string, number>();
  const clusters = new Map<number, string[]>();
  for (const [s, keys] of w.clusters) {
    clusters.set(s, [...keys].sort());
    for (const k of keys) {
      members.set(k, 1);
      items.set(`${k}|${contentHashes.get(k) ?? "?"}`, 1);
    }
  }
  return { items, members, clusters, emptyStories: 0, badCopies: 0, merges: 0 };
}

interface Diff {
  lost: number;
  duplicated: number;
  lines: string[];
}

function multisetDiff(base: Map<string, number>, other: Map<string, number>): { missing: string[]; extra: string[] } {
  const missing: string[] = [];
  const extra: string[] = [];
  for (const [k, n] of base) for (let i = other.get(k) ?? 0; i < n; i++) missing.push(k);
  for (const [k, n] of other) for (let i = base.get(k) ?? 0; i < n; i++) extra.push(k);
  return { missing, extra };
}

/** What `b` (the run under test) lost and duplicated against `a` (the reference). */
function compare(a: Snapshot, b: Snapshot): Diff {
  const lines: string[] = [];
  const it = multisetDiff(a.items, b.items);
  const mem = multisetDiff(a.members, b.members);
  const sig = (m: Map<number, string[]>) => {
    const out = new Map<string, number>();
    for (const keys of m.values()) out.set(keys.join(","), (out.get(keys.join(",")) ?? 0) + 1);
    return out;
  };
  const st = multisetDiff(sig(a.clusters), sig(b.clusters));
  // Explain the story differences: splits (one reference story in several) and wrong merges.
  const storyOf = new Map<string, string>();
  for (const [id, keys] of b.clusters) for (const k of keys) storyOf.set(k, String(id));
  let splits = 0;
  let partial = 0;
  for (const s of st.missing) {
    const owners = new Set(s.split(",").map((k) => storyOf.get(k) ?? "none"));
    if (owners.size > 1) splits += owners.size - 1;
    else partial++;
  }
  const extraEmpty = Math.max(0, b.emptyStories - a.emptyStories);
  lines.push(`items:       ${it.missing.length} lost, ${it.extra.length} extra` + (it.missing.length ? `  e.g. ${it.missing.slice(0, 3).join("  ")}` : "") + (it.extra.length ? `  extra e.g. ${it.extra.slice(0, 3).join("  ")}` : ""));
  lines.push(`memberships: ${mem.missing.length} lost, ${mem.extra.length} extra` + (mem.missing.length ? `  e.g. ${mem.missing.slice(0, 3).join("  ")}` : ""));
  lines.push(`stories:     ${st.missing.length} lost, ${st.extra.length} extra (as sets of copies; ${splits} extra part(s) from split stories, ${partial} changed otherwise)` +
    (st.missing.length ? `  e.g. lost {${st.missing[0]!.slice(0, 160)}}` : ""));
  lines.push(`empty stories (live, no copies): ${b.emptyStories} (reference ${a.emptyStories}); stories whose copies count disagrees: ${b.badCopies}; merges: ${b.merges} (reference ${a.merges})`);
  return {
    lost: it.missing.length + mem.missing.length + st.missing.length,
    duplicated: it.extra.length + mem.extra.length + st.extra.length + extraEmpty + b.badCopies,
    lines,
  };
}

/* ------------------------------------------------------------------ runs */

interface RunResult {
  label: string;
  snap: Snapshot;
  contentHashes: Map<string, string>;
  findings: string[];
  seconds: number;
  kills: number;
  unexpected: UnexpectedExit[];
  failedItemsJobs: number;
  failedFetchJobs: number;
  logCounts: Map<string, number>;
}

type Event = { at: number; what: string; run: () => Promise<void> };

async function runOnce(label: string, chaos: boolean, pgServer: PrivatePostgres, w: Workload, runNo: number): Promise<RunResult> {
  const t0 = Date.now();
  const log = (s: string) => console.log(`[${label} ${stamp(t0)}] ${s}`);
  const findings: string[] = [];
  const dbUrl = await pgServer.createDatabase(`nf_chaos_${runNo}`);
  const redis = new PrivateRedis(`nf-chaos-${runNo}`);
  await redis.start();
  const prefix = "nfchaos";
  const env = serviceEnv(dbUrl, redis.url, prefix);
  migrate(env);
  const server = await serveWorkload(w, REVEAL_MS);
  const seedDb = createDb(dbUrl, { max: 1 });
  for (let f = 0; f < F; f++) await addFeed(seedDb.db, { url: `${server.baseUrl}${feedPath(f)}` });
  await seedDb.close();
  log(`fresh database ${dbUrl.replace(/^.*\//, "")} on private Postgres :${pgServer.port}, fresh Redis :${redis.port} (AOF on), feeds at ${server.baseUrl}`);

  const unexpected: UnexpectedExit[] = [];
  let stopping = false;
  const procs: ServiceProc[] = [];
  const onUnexpected = (e: UnexpectedExit) => {
    unexpected.push(e);
    log(`FINDING: ${e.name} exited by itself (code ${e.code}, signal ${e.signal}); last log lines:\n      ${e.lastLines.join("\n      ")}`);
    if (!stopping) setTimeout(() => !stopping && procs.find((p) => p.name === e.name)?.start(), 1000);
  };
  for (let i = 0; i < N_INGEST; i++) procs.push(new ServiceProc(`ingest#${i + 1}`, "ingest", env, join(LOGS, `${label}-ingest-${i + 1}.log`), onUnexpected));
  for (let i = 0; i < N_DEDUPE; i++) procs.push(new ServiceProc(`dedupe#${i + 1}`, "dedupe", env, join(LOGS, `${label}-dedupe-${i + 1}.log`), onUnexpected));
  for (const p of procs) p.start();
  server.startClock();
  const clock0 = Date.now();
  log(`started ${procs.map((p) => `${p.name} (pid ${p.pid})`).join(", ")}; feeds reveal ${N} items over ${REVEAL_MS / 1000} s`);

  // The chaos plan, from the seed.
  const events: Event[] = [];
  let kills = 0;
  if (chaos) {
    const rand = rng(SEED ^ 0x5eed);
    const kinds: ("ingest" | "dedupe")[] = Array.from({ length: KILLS }, (_, i) => (i % 2 ? "dedupe" : "ingest"));
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
    }
    for (let i = 0; i < KILLS; i++) {
      const at = Math.round(REVEAL_MS * (0.04 + (0.92 * (i + rand())) / KILLS));
      const pool = procs.filter((p) => p.role === kinds[i]);
      const p = pool[Math.floor(rand() * pool.length)]!;
      const pause = Math.round(rand() * 3000);
      events.push({
        at, what: `SIGKILL ${p.name}, restart after ${pause} ms`,
        run: async () => {
          const pid = p.pid;
          if (!p.alive) {
            log(`kill planned for ${p.name} but it is not running (restarting): skipped`);
            return;
          }
          await p.kill();
          kills++;
          log(`SIGKILL ${p.name} (pid ${pid}) [kill ${kills}]; restart in ${pause} ms`);
          setTimeout(() => {
            if (stopping) return;
            p.start();
            log(`restarted ${p.name} (pid ${p.pid})`);
          }, pause);
        },
      });
    }
    const pgAt = Math.round(REVEAL_MS * (0.3 + 0.1 * rand()));
    events.push({
      at: pgAt, what: `Postgres stop -m fast, ${DOWN_MS / 1000} s down, start`,
      run: async () => {
        log(`Postgres: pg_ctl stop -m fast (down for ${DOWN_MS / 1000} s)`);
        await pgServer.restart(DOWN_MS);
        log("Postgres: started again");
      },
    });
    const redisAt = Math.round(REVEAL_MS * (0.6 + 0.1 * rand()));
    events.push({
      at: redisAt, what: `Redis SHUTDOWN (AOF written), ${DOWN_MS / 1000} s down, start`,
      run: async () => {
        log(`Redis: SHUTDOWN (down for ${DOWN_MS / 1000} s)`);
        await redis.restart(DOWN_MS);
        log("Redis: started again on the same AOF");
      },
    });
    events.sort((x, y) => x.at - y.at);
    log(`chaos plan (seed ${SEED}):\n${events.map((e) => `      at ${(e.at / 1000).toFixed(1).padStart(6)} s: ${e.what}`).join("\n")}`);
  }
  const chaosDone = (async () => {
    for (const e of events) {
      const wait = clock0 + e.at - Date.now();
      if (wait > 0) await sleep(wait);
      await e.run().catch((err) => log(`chaos step failed: ${(err as Error).message}`));
    }
  })();

  // Progress and the end state.
  const mon = new pg.Pool({ connectionString: dbUrl, max: 2, connectionTimeoutMillis: 2000 });
  mon.on("error", () => {});
  const probe = new QueueProbe(redis.url, prefix);
  const revealEnd = new Date(clock0 + REVEAL_MS);
  const counts = async () => {
    const r = (await mon.query(`SELECT (SELECT count(*) FROM items) AS items, (SELECT count(*) FROM stories WHERE merged_into_id IS NULL) AS stories,
      (SELECT count(*) FROM feeds f WHERE NOT EXISTS (SELECT 1 FROM fetches x WHERE x.feed_id = f.id AND x.started_at >= $1 AND x.outcome IN ('ok', 'not_modified'))) AS unpolled`, [revealEnd])).rows[0];
    return { items: Number(r.items), stories: Number(r.stories), unpolled: Number(r.unpolled) };
  };
  const progress = async () => {
    const db = await counts().catch(() => null);
    const q = await probe.counts().catch(() => null);
    const qs = q ? `fetch w${q.fetch.waiting}/a${q.fetch.active}/d${q.fetch.delayed}/f${q.fetch.failed}, items w${q.items.waiting}/a${q.items.active}/d${q.items.delayed}/f${q.items.failed}` : "queues: Redis down";
    log(`revealed ${server.revealed()}/${N}, stored ${db ? `${db.items} items, ${db.stories} stories` : "(Postgres down)"}, ${qs}, up ${procs.filter((p) => p.alive).length}/${procs.length}`);
    return { db, q };
  };
  let lastProgress = 0;
  while (Date.now() < revealEnd.getTime() + 1000) {
    await sleep(1000);
    if (Date.now() - lastProgress >= 10_000) {
      lastProgress = Date.now();
      await progress();
    }
  }
  await chaosDone;
  log("all items revealed; waiting for the end state (every feed polled since, queues empty, counts steady)");
  let nudged = false;
  let deadline = Date.now() + SETTLE_MS;
  let steady = 0;
  let prevItems = -1;
  for (;;) {
    await sleep(1000);
    const db = await counts().catch(() => null);
    const q = await probe.counts().catch(() => null);
    const idle = q && Object.values(q).every((c) => c.waiting + c.active + c.delayed + c.paused === 0);
    if (db && idle && db.unpolled === 0 && db.items === prevItems) steady++;
    else steady = 0;
    prevItems = db?.items ?? -1;
    if (steady >= 3) break;
    if (Date.now() - lastProgress >= 10_000) {
      lastProgress = Date.now();
      await progress();
      if (db?.unpolled) log(`${db.unpolled} feed(s) not yet polled since their last item appeared`);
    }
    if (Date.now() > deadline) {
      const stuck = (await mon.query(`SELECT f.id, f.next_check_at, f.error_count, f.last_error FROM feeds f WHERE NOT EXISTS
          (SELECT 1 FROM fetches x WHERE x.feed_id = f.id AND x.started_at >= $1 AND x.outcome IN ('ok', 'not_modified')) ORDER BY f.id`, [revealEnd]).catch(() => ({ rows: [] }))).rows;
      if (stuck.length && !nudged) {
        const leaseS = stuck.map((r) => Math.round((new Date(r.next_check_at).getTime() - Date.now()) / 1000));
        const f = `${stuck.length} feed(s) not polled ${SETTLE_MS / 1000} s after their last item appeared: next check in ${Math.min(...leaseS)}..${Math.max(...leaseS)} s (feeds ${stuck.slice(0, 8).map((r) => r.id).join(", ")}${stuck.length > 8 ? ", …" : ""}; last error: ${stuck.find((r) => r.last_error)?.last_error ?? "none"}) — their fetch job was lost or failed, and the scheduler's claim lease (10 min) holds them`;
        findings.push(f);
        log(`FINDING: ${f}`);
        nudged = true;
        if (NUDGE) {
          await mon.query(`UPDATE feeds SET next_check_at = now() WHERE id = ANY($1::bigint[])`, [stuck.map((r) => r.id)]);
          log("operator remedy: made those feeds due now (UPDATE feeds SET next_check_at = now()); waiting again");
          deadline = Date.now() + SETTLE_MS;
        } else {
          deadline = Date.now() + 11 * 60_000;
        }
        continue;
      }
      const f = `no end state ${Math.round((Date.now() - revealEnd.getTime()) / 1000)} s after the reveal (db ${JSON.stringify(db)}, queues ${JSON.stringify(q)}): comparing what is there`;
      findings.push(f);
      log(`FINDING: ${f}`);
      break;
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  const final = await probe.counts();
  const failedItems = final.items.failed;
  if (failedItems) {
    const jobs = await probe.failedJobs("items", 5);
    const f = `${failedItems} failed job(s) in the items queue (items not stored unless carried again): ${jobs.map((j) => `${j.id} after ${j.attempts} attempt(s): ${j.reason}`).join("; ")}`;
    findings.push(f);
    log(`FINDING: ${f}`);
  }
  if (final.fetch.failed) {
    const jobs = await probe.failedJobs("fetch", 3);
    const reasons = [...new Set(jobs.map((j) => j.reason.replace(/\s+/g, " ").replace(/^(Failed query: \S+ ).*?( from "\w+").*$/, "$1…$2").slice(0, 160)))];
    findings.push(`${final.fetch.failed} failed fetch job(s) (fetch jobs have 1 attempt; the feed then waits for its claim lease): ${reasons.join("; ")}`);
  }
  stopping = true;
  await Promise.all(procs.map((p) => p.stop()));
  await probe.close();
  await mon.end();
  const snap = await snapshot(dbUrl);
  const hc = new pg.Client({ connectionString: dbUrl });
  await hc.connect();
  const contentHashes = new Map<string, string>();
  for (const r of (await hc.query(`SELECT f.url, i.identity_key, i.content_hash FROM items i JOIN feeds f ON f.id = i.feed_id`)).rows) {
    contentHashes.set(`${new URL(r.url).pathname}|${r.identity_key}`, r.content_hash);
  }
  await hc.end();
  await server.close();
  redis.stop();
  const logCounts = new Map<string, number>();
  for (const p of procs) for (const [k, n] of logSummary(p.logPath)) logCounts.set(k, (logCounts.get(k) ?? 0) + n);
  const members = [...snap.clusters.values()];
  log(`end state after ${seconds.toFixed(0)} s: ${[...snap.items.values()].reduce((x, y) => x + y, 0)} items, ${members.length} stories with copies, ${snap.merges} merges; requests served ${server.requests.ok} × 200, ${server.requests.notModified} × 304`);
  return { label, snap, contentHashes, findings, seconds, kills, unexpected, failedItemsJobs: failedItems, failedFetchJobs: final.fetch.failed, logCounts };
}

/* ------------------------------------------------------------------ main */

console.log(`bench:chaos — seed ${SEED}: ${F} feeds × ${I} items = ${N} items (${W} words, ~${COPIES} copies per story), revealed over ${REVEAL_MS / 1000} s; ` +
  `${N_INGEST} ingest + ${N_DEDUPE} dedupe processes; chaos: ${KILLS} SIGKILLs, Postgres and Redis restarted once each (${DOWN_MS / 1000} s down); node ${process.version}`);
console.log(`service logs: ${LOGS}   (repeat this run: pnpm bench:chaos --seed ${SEED}${process.argv.slice(2).filter((x, i, all) => x !== "--seed" && all[i - 1] !== "--seed").map((x) => ` ${x}`).join("")})`);
const w = buildWorkload(SEED, F, I, W, COPIES);
console.log(`workload: ${w.clusters.size} source stories; ${[...w.clusters.values()].filter((c) => c.length > 1).length} of them with 2+ copies`);
const pgServer = new PrivatePostgres("nf-chaos");
await pgServer.init();
console.log(`private Postgres 15 on 127.0.0.1:${pgServer.port} (${pgServer.dir})`);

let exitCode = 0;
try {
  const baselines: RunResult[] = [];
  for (let b = 0; b < BASELINES; b++) baselines.push(await runOnce(`undisturbed${BASELINES > 1 ? b + 1 : ""}`, false, pgServer, w, b + 1));
  const chaos = await runOnce("chaos", true, pgServer, w, 9);
  const truth = truthSnapshot(w, (baselines[0] ?? chaos).contentHashes);

  console.log("\n=== what was tried");
  console.log(`${N} items in ${F} local feeds; ${chaos.kills} SIGKILLs of service processes (each restarted), Postgres restarted once, Redis restarted once; ${chaos.seconds.toFixed(0)} s chaos run`);
  console.log("\n=== what was found");
  for (const [i, b] of baselines.entries()) {
    const d = compare(truth, b.snap);
    console.log(`${b.label} vs the generator's ground truth: ${d.lost} missing, ${d.duplicated} extra${d.lost + d.duplicated ? "" : " (identical: the clusters do not depend on arrival order)"}`);
    if (d.lost + d.duplicated) for (const l of d.lines) console.log(`  ${l}`);
    if (i > 0) {
      const d2 = compare(baselines[0]!.snap, b.snap);
      console.log(`${b.label} vs ${baselines[0]!.label}: ${d2.lost} missing, ${d2.duplicated} extra`);
    }
  }
  const reference = baselines[0]?.snap ?? truth;
  const d = compare(reference, chaos.snap);
  console.log(`chaos run vs ${baselines[0] ? "the undisturbed run" : "the ground truth"}:`);
  for (const l of d.lines) console.log(`  ${l}`);
  const findings = [...baselines.flatMap((b) => b.findings.map((f) => `${b.label}: ${f}`)), ...chaos.findings.map((f) => `chaos: ${f}`)];
  for (const e of chaos.unexpected) findings.push(`chaos: ${e.name} exited by itself (code ${e.code}, signal ${e.signal}), restarted: ${e.lastLines.join(" | ")}`);
  for (const b of baselines) for (const e of b.unexpected) findings.push(`${b.label}: ${e.name} exited by itself (code ${e.code}): ${e.lastLines.slice(-2).join(" | ")}`);
  console.log(`findings: ${findings.length ? "" : "none"}`);
  for (const f of findings) console.log(`  - ${f}`);
  console.log("service log messages at warn and above in the chaos run (all processes):");
  const top = [...chaos.logCounts].sort((x, y) => y[1] - x[1]).slice(0, 12);
  for (const [k, n] of top) console.log(`  ${String(n).padStart(6)} × ${k}`);
  if (!top.length) console.log("  none");
  console.log(`\nlost ${d.lost}, duplicated ${d.duplicated}`);
  if (d.lost || d.duplicated) exitCode = 1;
} catch (err) {
  console.error(`bench:chaos failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  cleanupNow();
}
process.exit(exitCode);

/**
 * `status`: one screen for an operator: the queues, feeds by state, what arrived in
 * the last hour and day, the newest fetch errors and the size of the dedupe index.
 * Postgres and Redis are read side by side; when one cannot be read, the other's
 * part is still shown, the failure is one line on stderr, and the exit code is 1.
 */
import { assertSchemaCurrent, createDb, storeStatus, type StoreStatus } from "@newsfeed/store";
import type { FingerprintIndex } from "@newsfeed/dedupe";
import type { Command } from "../cli.ts";
import { loadConfig, type Config } from "../config.ts";
import { safe, table, truncate } from "../format.ts";
import { createIndex } from "../runtime.ts";
import { closeQueues, connectRedis, openQueues, queueStats, type QueueStats } from "./queues.ts";

type IndexStats = Awaited<ReturnType<FingerprintIndex["stats"]>>;

interface RedisStatus {
  queues: QueueStats[];
  dedupeIndex: IndexStats & { prefix: string };
  /** used_memory of INFO memory: the whole Redis server, not only newsfeed's keys. */
  redisUsedMemory: number | null;
}

/** The `--json` object: a part that could not be read is null, with its reason under `errors`. */
export interface StatusReport {
  at: string;
  ok: boolean;
  queues: QueueStats[] | null;
  feeds: StoreStatus["feeds"] | null;
  stories: StoreStatus["stories"] | null;
  items: StoreStatus["items"] | null;
  fetches: StoreStatus["fetches"] | null;
  recentErrors: StoreStatus["recentErrors"] | null;
  errorSearch: StoreStatus["errorSearch"] | null;
  dedupeIndex: RedisStatus["dedupeIndex"] | null;
  redisUsedMemory: number | null;
  errors: { postgres?: string; redis?: string };
}

async function readPostgres(config: Config, now: Date): Promise<StoreStatus> {
  const db = createDb(config.DATABASE_URL, { max: 1, applicationName: "newsfeed-status" });
  try {
    await assertSchemaCurrent(db.pool);
    return await storeStatus(db.db, { now });
  } finally {
    await db.close();
  }
}

async function readRedis(config: Config): Promise<RedisStatus> {
  const redis = await connectRedis(config.REDIS_URL);
  const queues = openQueues(redis, config.NEWSFEED_REDIS_PREFIX);
  try {
    const prefix = `${config.NEWSFEED_REDIS_PREFIX}:idx:`;
    const stats = await queueStats(queues);
    const index = await createIndex(config, redis, prefix).stats();
    const info = await redis.info("memory");
    const used = /^used_memory:(\d+)/m.exec(info);
    return { queues: stats, dedupeIndex: { prefix, ...index }, redisUsedMemory: used ? Number(used[1]) : null };
  } finally {
    await closeQueues(queues);
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** One line: the error, and where to look when the service is not there. */
function reason(err: unknown, service: "Postgres" | "Redis"): string {
  const e = err as Error & { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  const refused = code === "ECONNREFUSED" || /ECONNREFUSED/.test(e.message);
  const hint = refused ? ` (is ${service} running? see ${service === "Redis" ? "REDIS_URL" : "DATABASE_URL"})` : "";
  return `${e.message.split("\n")[0]}${hint}`;
}

const when = (d: Date) => d.toISOString().slice(0, 19).replace("T", " ");

function age(s: number | null): string {
  if (s === null) return "-";
  if (s < 120) return `${s} s`;
  if (s < 7_200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3_600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

function size(bytes: number): string {
  if (bytes < 1_024) return `${bytes} B`;
  if (bytes < 1_048_576) return `${(bytes / 1_024).toFixed(1)} kB`;
  if (bytes < 1_073_741_824) return `${(bytes / 1_048_576).toFixed(1)} MB`;
  return `${(bytes / 1_073_741_824).toFixed(2)} GB`;
}

function render(r: StatusReport): string {
  const out: string[] = [`newsfeed status at ${r.at.slice(0, 19).replace("T", " ")} UTC`, ""];
  if (r.queues) {
    out.push(table(["queue", "waiting", "active", "delayed", "failed", "oldest waiting"], r.queues.map((q) => [
      q.queue, q.waiting, q.active, q.delayed, q.failed, age(q.oldestWaitingS),
    ])));
  } else out.push("queues        unavailable (Redis)");
  out.push("");
  const line = (k: string, v: string) => out.push(`${k.padEnd(13)} ${v}`);
  if (r.feeds) {
    const { byState, failing, total } = r.feeds;
    const others = Object.entries(byState).filter(([s]) => !["active", "paused", "gone"].includes(s)).map(([s, n]) => `, ${n} ${safe(s)}`);
    line("feeds", `${total} in all: ${byState.active} active (${failing} failing), ${byState.paused} paused, ${byState.gone} gone${others.join("")}`);
    line("stories", `${r.stories!.lastHour} in the last hour, ${r.stories!.lastDay} in the last day (live stories, by first copy seen)`);
    line("items", `${r.items!.lastHour} in the last hour, ${r.items!.lastDay} in the last day (first seen)`);
    line("fetches", `${r.fetches!.lastHour} in the last hour, ${r.fetches!.errorsLastHour} failed`);
  } else line("feeds", "unavailable (Postgres)");
  if (r.dedupeIndex) {
    const x = r.dedupeIndex;
    line(
      "dedupe index",
      `${x.fingerprints} fingerprints in Redis (${x.idsIssued} added since it was created), about ${size(x.bytes)}` +
        ` (estimate: ${x.recordChunks} record chunks${x.sampled ? ", sampled" : ""} + bucket entries)`,
    );
    if (r.redisUsedMemory !== null) line("redis memory", `${size(r.redisUsedMemory)} used by the whole server`);
  } else line("dedupe index", "unavailable (Redis)");
  if (r.recentErrors) {
    const hours = r.errorSearch!.windowHours;
    out.push("");
    if (r.recentErrors.length === 0) out.push(`recent fetch errors: none in the last ${hours} h`);
    else {
      out.push(`recent fetch errors (newest first, last ${hours} h)`);
      out.push(table(["when (UTC)", "feed", "HTTP", "error", "url"], r.recentErrors.map((e) => [
        when(e.startedAt), e.feedId, e.status ?? "-",
        truncate(safe(e.errorClass ? `${e.errorClass}: ${e.error ?? ""}` : (e.error ?? "")), 70), truncate(safe(e.url), 60),
      ])));
    }
  }
  return out.join("\n");
}

export const statusCommand: Command = {
  name: "status",
  summary: "One screen: queues, feeds by state, recent fetch errors, stories and items of the last hour and day, dedupe index size",
  options: { json: { type: "boolean" } },
  optionHelp: {
    json: "one JSON object; a part that could not be read is null, and its reason is under \"errors\"",
  },
  examples: [
    "pnpm newsfeed status",
    "pnpm --silent newsfeed status --json | jq '.queues[] | select(.failed > 0)'",
    "pnpm --silent newsfeed status --json | jq .dedupeIndex.fingerprints",
    "# Dedupe index: fingerprints still held (record chunks alive) and ids issued; its bytes are an estimate from a",
    "# fixed sample of its keys (MEMORY USAGE), not a scan. Recent errors: the last 10 in 24 h, among the newest 50,000 fetches.",
    "# Exit codes: 0 done, 1 Postgres or Redis could not be read (the other's part is still shown), 2 usage error.",
  ],
  async run({ values }) {
    const config = loadConfig();
    const now = new Date();
    const [pg, rd] = await Promise.allSettled([readPostgres(config, now), readRedis(config)]);
    const s = pg.status === "fulfilled" ? pg.value : null;
    const x = rd.status === "fulfilled" ? rd.value : null;
    const errors: StatusReport["errors"] = {};
    if (pg.status === "rejected") errors.postgres = reason(pg.reason, "Postgres");
    if (rd.status === "rejected") errors.redis = reason(rd.reason, "Redis");
    const report: StatusReport = {
      at: now.toISOString(),
      ok: !errors.postgres && !errors.redis,
      queues: x?.queues ?? null,
      feeds: s?.feeds ?? null,
      stories: s?.stories ?? null,
      items: s?.items ?? null,
      fetches: s?.fetches ?? null,
      recentErrors: s?.recentErrors ?? null,
      errorSearch: s?.errorSearch ?? null,
      dedupeIndex: x?.dedupeIndex ?? null,
      redisUsedMemory: x?.redisUsedMemory ?? null,
      errors,
    };
    console.log(values.json ? JSON.stringify(report, null, 2) : render(report));
    if (errors.postgres) console.error(`newsfeed: Postgres: ${errors.postgres}`);
    if (errors.redis) console.error(`newsfeed: Redis: ${errors.redis}`);
    return report.ok ? 0 : 1;
  },
};

import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { QUEUES, type QueueName, queuePrefix } from "@newsfeed/jobs";
import { UsageError, type Command } from "../cli.ts";
import { loadConfig } from "../config.ts";
import { safe, table, truncate } from "../format.ts";
import { intArg } from "./shared.ts";

const NAMES = Object.values(QUEUES) as QueueName[];

/**
 * A connection for a one-shot command: no reconnecting, and when Redis cannot be
 * reached the cause itself is thrown (e.g. ECONNREFUSED with its port, which main.ts
 * turns into a hint), not ioredis' "Connection is closed".
 */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000, retryStrategy: () => null });
  let first: Error | undefined;
  redis.on("error", (err: Error) => {
    first ??= err;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw first ?? err;
  }
  return redis;
}

/** The queues under a Redis prefix, on one connection (close them before the connection). */
export function openQueues(redis: Redis, redisPrefix: string): Map<QueueName, Queue> {
  return new Map(NAMES.map((n) => [n, new Queue(n, { connection: redis, prefix: queuePrefix(redisPrefix) })]));
}

export async function closeQueues(queues: Map<QueueName, Queue>): Promise<void> {
  for (const q of queues.values()) await q.close().catch(() => {});
}

/** Runs `fn` with the queues of the configured Redis prefix, closing them after. */
async function withQueues<T>(fn: (queues: Map<QueueName, Queue>) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const redis = await connectRedis(config.REDIS_URL);
  const queues = openQueues(redis, config.NEWSFEED_REDIS_PREFIX);
  try {
    return await fn(queues);
  } finally {
    await closeQueues(queues);
    await redis.quit().catch(() => redis.disconnect());
  }
}

export interface QueueStats {
  queue: QueueName;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  /** Age of the oldest waiting job, seconds (null when none waits). */
  oldestWaitingS: number | null;
}

export async function queueStats(queues: Map<QueueName, Queue>, now = Date.now()): Promise<QueueStats[]> {
  const out: QueueStats[] = [];
  for (const [name, q] of queues) {
    const c = await q.getJobCounts("waiting", "prioritized", "active", "delayed", "failed");
    const [oldest] = await q.getJobs(["waiting", "prioritized"], 0, 0, true);
    out.push({
      queue: name, waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0,
      failed: c.failed ?? 0, oldestWaitingS: oldest ? Math.max(0, Math.round((now - oldest.timestamp) / 1000)) : null,
    });
  }
  return out;
}

const failed: Command = {
  name: "failed",
  summary: "List failed jobs of a queue with their errors",
  options: { queue: { type: "string" }, limit: { type: "string" }, json: { type: "boolean" } },
  optionHelp: { queue: `the queue: ${NAMES.join(" or ")} (required)`, limit: "how many, newest first (default 20)", json: "one JSON array" },
  examples: ["pnpm newsfeed queues failed --queue items", "pnpm --silent newsfeed queues failed --queue fetch --json --limit 100"],
  async run({ values }) {
    const name = values.queue as string | undefined;
    if (!name || !NAMES.includes(name as QueueName)) throw new UsageError(`--queue must be ${NAMES.join(" or ")}, got '${name ?? ""}'`);
    const limit = intArg("limit", values.limit as string | undefined, 20);
    await withQueues(async (queues) => {
      const jobs = await queues.get(name as QueueName)!.getJobs(["failed"], 0, limit - 1);
      const rows = jobs.map((j) => ({
        id: j.id, name: j.name, failedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : null, attempts: j.attemptsMade,
        error: j.failedReason, feedId: (j.data as { feedId?: number }).feedId ?? null,
        items: Array.isArray((j.data as { items?: unknown[] }).items) ? (j.data as { items: unknown[] }).items.length : null,
      }));
      if (values.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      if (rows.length === 0) {
        console.log(`no failed jobs in ${name}`);
        return;
      }
      console.log(table(["failed at (UTC)", "job", "feed", "items", "attempts", "error"], rows.map((r) => [
        (r.failedAt ?? "").slice(0, 19).replace("T", " "), truncate(r.id ?? "", 40), r.feedId ?? "-", r.items ?? "-", r.attempts,
        truncate(safe(r.error), 80),
      ])));
    });
  },
};

export const queuesCommand: Command = {
  name: "queues",
  summary: "Waiting, active, delayed and failed jobs per queue, and the age of the oldest waiting job",
  options: { json: { type: "boolean" } },
  optionHelp: { json: "one JSON array" },
  examples: ["pnpm newsfeed queues", "pnpm newsfeed queues failed --queue items"],
  subcommands: [failed],
  async run({ values }) {
    await withQueues(async (queues) => {
      const stats = await queueStats(queues);
      if (values.json) {
        console.log(JSON.stringify(stats, null, 2));
        return;
      }
      console.log(table(["queue", "waiting", "active", "delayed", "failed", "oldest waiting"], stats.map((s) => [
        s.queue, s.waiting, s.active, s.delayed, s.failed, s.oldestWaitingS === null ? "-" : `${s.oldestWaitingS} s`,
      ])));
    });
  },
};

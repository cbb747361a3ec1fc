/**
 * The typed job catalog: queue names, payload schemas and job options, shared
 * by the producers (scheduler, ingest worker, CLI) and the consumers (workers).
 * New payload fields must be optional so that jobs queued before a deploy
 * still parse after it.
 */
import { z } from "zod";
import type { JobsOptions } from "bullmq";

export const QUEUES = {
  fetch: "fetch",
  items: "items",
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** One feed to fetch. */
export const fetchJobSchema = z.object({
  feedId: z.number().int().positive(),
  /** Ignore validators and the body hash: fetch and parse unconditionally. */
  force: z.boolean().optional(),
  /** When the feed was due (ISO 8601): the scheduler's lag is the fetch's start minus this. */
  dueAt: z.string().optional(),
});
export type FetchJob = z.infer<typeof fetchJobSchema>;

/** One normalized item, as the ingest worker hands it to dedupe. */
export const itemPayloadSchema = z.object({
  feedId: z.number().int().positive(),
  /** Identity within the feed: guid, else canonical link, else hash of title + content. */
  identityKey: z.string().min(1),
  guid: z.string().nullable(),
  url: z.string().nullable(),
  canonicalUrl: z.string().nullable(),
  title: z.string(),
  /** The item's body as the feed carried it (HTML or text); dedupe cleans it. */
  content: z.string(),
  /** ISO 8601 UTC, or null when the feed gave no usable date. */
  publishedAt: z.string().nullable(),
  /** ISO 8601 UTC: when the fetch that carried this version of the item ran. */
  seenAt: z.string(),
  /** Hash of title + content + link: a change makes the item an update. */
  contentHash: z.string().min(1),
});
export type ItemPayload = z.infer<typeof itemPayloadSchema>;

/** A batch of items from one fetch of one feed. */
export const itemsJobSchema = z.object({
  feedId: z.number().int().positive(),
  fetchId: z.number().int().positive().optional(),
  items: z.array(itemPayloadSchema).min(1),
});
export type ItemsJob = z.infer<typeof itemsJobSchema>;

/** Items per items-queue job: large enough that one Lua call and one transaction pay off. */
export const ITEMS_PER_JOB = 100;

export const JOB_OPTIONS: Record<QueueName, JobsOptions> = {
  fetch: {
    attempts: 1, // a failed fetch is recorded on the feed and rescheduled by the scheduler
    removeOnComplete: { count: 1000 },
    removeOnFail: { count: 5000 },
  },
  items: {
    attempts: 8,
    backoff: { type: "exponential", delay: 1000 },
    // Completed jobs leave at once: a stable job id then only folds duplicates that are
    // still queued, and the same items queued again later (a replay, or Postgres restored
    // from a backup while Redis kept its history) are processed, idempotently, not dropped.
    removeOnComplete: true,
    removeOnFail: { count: 10000 },
  },
};

/**
 * The BullMQ prefix of newsfeed's queues under a Redis key prefix. In braces: a Redis Cluster
 * hash tag, so that every key of every queue hashes to one slot, as BullMQ requires of a cluster
 * (its Lua scripts touch several keys at once).
 */
export const queuePrefix = (redisPrefix: string): string => `{${redisPrefix}:q}`;

/** SCAN patterns of every key newsfeed writes under a Redis key prefix: queues, index, hosts. */
export const ownedKeyPatterns = (redisPrefix: string): string[] => [`${redisPrefix}:*`, `${queuePrefix(redisPrefix)}:*`];

/** BullMQ job names, one per queue. */
export const JOB_NAMES: Record<QueueName, string> = {
  fetch: "fetch-feed",
  items: "dedupe-items",
};
export { jobDuration, metricOnce } from "./metrics.ts";

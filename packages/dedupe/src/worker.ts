import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import { itemsJobSchema, QUEUES } from "@newsfeed/jobs";
import type { SaveResult } from "@newsfeed/store";
import { dedupeBatch, type DedupeDeps } from "./pipeline.ts";

export interface DedupeWorkerOptions {
  connection: ConnectionOptions;
  /** BullMQ key prefix. */
  prefix: string;
  concurrency: number;
  deps: DedupeDeps;
  logger: Logger;
}

/** The dedupe worker: parses the payload, runs the batch, returns its counts. */
export function createDedupeWorker(opts: DedupeWorkerOptions): Worker {
  const processor = async (job: Job): Promise<SaveResult> => {
    const payload = itemsJobSchema.parse(job.data);
    const result = await dedupeBatch(opts.deps, payload.items);
    opts.logger.debug({ jobId: job.id, feedId: payload.feedId, ...result }, "items deduplicated");
    return result;
  };
  const worker = new Worker(QUEUES.items, processor, {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    autorun: true,
  });
  worker.on("failed", (job, err) => {
    opts.logger.error({ jobId: job?.id, attempts: job?.attemptsMade, err }, "dedupe job failed");
  });
  worker.on("error", (err) => opts.logger.error({ err }, "dedupe worker error"));
  return worker;
}

import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import { itemsJobSchema, QUEUES } from "@newsfeed/jobs";
import type { SaveResult } from "@newsfeed/store";
import { jobDuration } from "./metrics.ts";
import { dedupeBatch, type DedupeDeps } from "./pipeline.ts";

export interface DedupeWorkerOptions {
  connection: ConnectionOptions;
  /** BullMQ key prefix. */
  prefix: string;
  concurrency: number;
  deps: DedupeDeps;
  logger: Logger;
}

/**
 * The dedupe worker: parses the payload, runs the batch, returns its counts. Its logs
 * carry the jobId and feedId (the batch's decisions, their storyKey); each job's
 * duration goes to the metrics.
 */
export function createDedupeWorker(opts: DedupeWorkerOptions): Worker {
  const processor = async (job: Job): Promise<SaveResult> => {
    const end = jobDuration.startTimer({ queue: QUEUES.items });
    try {
      const payload = itemsJobSchema.parse(job.data);
      const logger = opts.logger.child({ jobId: job.id, feedId: payload.feedId });
      const result = await dedupeBatch(opts.deps, payload.items, { logger });
      logger.debug({ ...result }, "items deduplicated");
      return result;
    } finally {
      end();
    }
  };
  const worker = new Worker(QUEUES.items, processor, {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    autorun: true,
  });
  worker.on("failed", (job, err) => {
    opts.logger.error(
      { jobId: job?.id, feedId: (job?.data as { feedId?: unknown } | undefined)?.feedId, attempts: job?.attemptsMade, err },
      "dedupe job failed",
    );
  });
  worker.on("error", (err) => opts.logger.error({ err }, "dedupe worker error"));
  return worker;
}

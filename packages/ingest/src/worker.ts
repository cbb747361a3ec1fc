import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import { fetchJobSchema, QUEUES } from "@newsfeed/jobs";
import { pollFeed, type PollDeps, type PollResult } from "./poll.ts";

export interface IngestWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  deps: PollDeps;
  logger: Logger;
}

/** The ingest worker: one fetch job = one pollFeed call. Fetch failures are recorded, not thrown. */
export function createIngestWorker(opts: IngestWorkerOptions): Worker {
  const processor = async (job: Job): Promise<PollResult> => {
    const payload = fetchJobSchema.parse(job.data);
    return pollFeed(opts.deps, payload.feedId, { force: payload.force });
  };
  const worker = new Worker(QUEUES.fetch, processor, {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
  });
  worker.on("failed", (job, err) => opts.logger.error({ jobId: job?.id, err }, "fetch job failed"));
  worker.on("error", (err) => opts.logger.error({ err }, "ingest worker error"));
  return worker;
}

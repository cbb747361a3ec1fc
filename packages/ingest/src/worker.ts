import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import { fetchJobSchema, QUEUES } from "@newsfeed/jobs";
import { fetchLag, jobDuration } from "./metrics.ts";
import { pollFeed, type PollDeps, type PollResult } from "./poll.ts";

export interface IngestWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  deps: PollDeps;
  logger: Logger;
}

/**
 * The ingest worker: one fetch job = one pollFeed call. Fetch failures are recorded, not thrown.
 * Each job's logs carry its jobId (and pollFeed's its feedId); its duration and, for scheduled
 * jobs, its lag behind the feed's due time go to the metrics.
 */
export function createIngestWorker(opts: IngestWorkerOptions): Worker {
  const processor = async (job: Job): Promise<PollResult> => {
    const payload = fetchJobSchema.parse(job.data);
    const startedAt = Date.now();
    if (payload.dueAt) {
      const due = Date.parse(payload.dueAt);
      if (Number.isFinite(due)) fetchLag.observe(Math.max(0, startedAt - due) / 1000);
    }
    const end = jobDuration.startTimer({ queue: QUEUES.fetch });
    try {
      const logger = opts.logger.child({ jobId: job.id });
      return await pollFeed({ ...opts.deps, logger }, payload.feedId, { force: payload.force });
    } finally {
      end();
    }
  };
  const worker = new Worker(QUEUES.fetch, processor, {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
  });
  worker.on("failed", (job, err) =>
    opts.logger.error({ jobId: job?.id, feedId: (job?.data as { feedId?: unknown } | undefined)?.feedId, err }, "fetch job failed"),
  );
  worker.on("error", (err) => opts.logger.error({ err }, "ingest worker error"));
  return worker;
}

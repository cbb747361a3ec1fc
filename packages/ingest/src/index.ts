export { IngestError, type IngestErrorCode } from "./errors.ts";
export { conditionalGet, type HttpLimits, type HttpResult, type Validators } from "./http/get.ts";
export { decodeBody } from "./parse/decode.ts";
export { parseFeed, parseJsonFeed, type ParsedFeed, type RawItem } from "./parse/parse-feed.ts";
export { normalizeItems, identityOf, canonicalizeUrl, resolveUrl, parseDate } from "./normalize.ts";
export { nextCheckAt, baseInterval, DEFAULT_SCHEDULE, type ScheduleOptions, type ScheduleInput } from "./schedule.ts";
export { pollFeed, enqueueItems, itemsJobId, type PollDeps, type PollResult } from "./poll.ts";
export { createIngestWorker, type IngestWorkerOptions } from "./worker.ts";
export { startScheduler, scheduleDueFeeds, type Scheduler, type SchedulerOptions } from "./scheduler.ts";

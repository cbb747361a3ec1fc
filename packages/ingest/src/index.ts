export { IngestError, type IngestErrorCode } from "./errors.ts";
export { conditionalGet, closeHttp, type HttpLimits, type HttpResult, type Validators, type Redirect } from "./http/get.ts";
export { createAddressPolicy } from "./http/address.ts";
export { parseRetryAfter } from "./http/retry-after.ts";
export { decodeBody } from "./parse/decode.ts";
export { parseFeed, parseJsonFeed, type ParsedFeed, type RawItem } from "./parse/parse-feed.ts";
export { normalizeItems, identityOf, canonicalizeUrl, resolveUrl, parseDate } from "./normalize.ts";
export {
  nextCheckAt, baseInterval, updateItemRate, freshnessMs, rssTtlMs, DEFAULT_SCHEDULE, type ScheduleOptions, type ScheduleInput,
} from "./schedule.ts";
export { HostGate, hostKey, parseHostBudgets, type HostPolicy, type GateResult } from "./hosts.ts";
export { pollFeed, enqueueItems, itemsJobId, DEFAULT_FORCE_INTERVAL_MS, type PollDeps, type PollResult } from "./poll.ts";
export { createIngestWorker, type IngestWorkerOptions } from "./worker.ts";
export { startScheduler, scheduleDueFeeds, type Scheduler, type SchedulerOptions } from "./scheduler.ts";
export { extractArticle, EXTRACT_DEFAULTS, type ExtractedArticle, type ExtractOptions } from "./fulltext/extract.ts";
export { fillFullText, needsFullText, FULL_TEXT_DEFAULTS, type FetchPage, type FullTextResult } from "./fulltext/fulltext.ts";
export { readArchivedBody, NewestVersions, replayVerdict, type ArchivedBody, type ReplayVerdict } from "./replay.ts";

import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gzip as gzipCb } from "node:zlib";
import type { Queue } from "bullmq";
import type { Logger } from "pino";
import { ITEMS_PER_JOB, JOB_NAMES, JOB_OPTIONS, type ItemPayload } from "@newsfeed/jobs";
import {
  deferFeed, getFeed, recordFetch, storedContentHashes, type Db, type FeedLoader, type FeedUpdate, type FetchOutcome,
  type FetchRecord, type FetchRecorder,
} from "@newsfeed/store";
import { IngestError } from "./errors.ts";
import type { HostGate } from "./hosts.ts";
import { itemsIngested, observeFetch } from "./metrics.ts";
import { fillFullText } from "./fulltext/fulltext.ts";
import { conditionalGet, type HttpLimits } from "./http/get.ts";
import { normalizeItems } from "./normalize.ts";
import { decodeBody } from "./parse/decode.ts";
import { parseFeed } from "./parse/parse-feed.ts";
import { freshnessMs, nextCheckAt, rssTtlMs, updateItemRate, type ScheduleOptions } from "./schedule.ts";

export interface PollDeps {
  db: Db;
  itemsQueue: Queue;
  http: HttpLimits;
  schedule: ScheduleOptions;
  logger: Logger;
  /** Per-host budget and Retry-After holds, shared through Redis; none: no limit. */
  hosts?: HostGate;
  /** A fetch without validators is forced when the last was longer ago than this (default 12 h). */
  forceIntervalMs?: number;
  /** Batches the feed reads and the fetch records of concurrent polls (the worker's; none: one at a time). */
  feeds?: FeedLoader;
  recorder?: FetchRecorder;
  random?: () => number;
  now?: () => Date;
}

export interface PollResult {
  feedId: number;
  outcome: FetchOutcome | "skipped" | "deferred";
  status: number | null;
  /** Items found in the feed. */
  items: number;
  /** Of those, new to the store, and stored ones whose content changed (both queued). */
  newItems?: number;
  updatedItems?: number;
  errorClass?: string;
  /** When deferred: why, and until when. */
  deferred?: { reason: "budget" | "hold"; until: Date };
}

export const DEFAULT_FORCE_INTERVAL_MS = 12 * 3_600_000;

const gzip = promisify(gzipCb);
/** Raw bodies are archived with a fast gzip level, off the event loop (libuv's thread pool). */
const ARCHIVE_GZIP_LEVEL = 3;

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Stable id of one items job: the feed plus the identities and versions it carries. */
export function itemsJobId(feedId: number, items: readonly ItemPayload[]): string {
  const h = createHash("sha1");
  for (const it of items) h.update(`${it.identityKey}\u0000${it.contentHash}\u0001`);
  return `items-${feedId}-${h.digest("hex")}`;
}

/** Queues items in batches of ITEMS_PER_JOB with stable job ids (one addBulk call). */
export async function enqueueItems(queue: Queue, feedId: number, items: readonly ItemPayload[]): Promise<number> {
  const jobs = [];
  for (let i = 0; i < items.length; i += ITEMS_PER_JOB) {
    const chunk = items.slice(i, i + ITEMS_PER_JOB);
    jobs.push({
      name: JOB_NAMES.items,
      data: { feedId, items: chunk },
      opts: { ...JOB_OPTIONS.items, jobId: itemsJobId(feedId, chunk) },
    });
  }
  if (jobs.length) await queue.addBulk(jobs);
  return jobs.length;
}

/**
 * Fetches one feed, the very function the ingest worker and `feeds poll` run:
 * the host's budget, a conditional GET (unconditional every forceIntervalMs),
 * "not modified" on 304 or an unchanged body, parse, normalize, queue the items
 * that are new or changed, then record the fetch and the feed's next check.
 * Items are queued before the validators are saved, so a crash in between
 * re-reads the body rather than losing it. `force` (the CLI's --force) skips the
 * validators and the unchanged-body check and ignores the host budget.
 */
export async function pollFeed(deps: PollDeps, feedId: number, opts: { force?: boolean } = {}): Promise<PollResult> {
  const now = deps.now ?? (() => new Date());
  const random = deps.random ?? Math.random;
  const feed = deps.feeds ? await deps.feeds.load(feedId) : await getFeed(deps.db, feedId);
  if (!feed || feed.state !== "active") return { feedId, outcome: "skipped", status: null, items: 0 };
  const log = deps.logger.child({ feedId });
  const startedAt = now();

  if (deps.hosts && !opts.force) {
    const gate = await deps.hosts.acquire(feed.url, startedAt.getTime());
    if (!gate.ok) {
      // Spread the deferred feeds over a few seconds past the wait, so they do not return at once.
      const until = new Date(startedAt.getTime() + gate.waitMs + Math.round(random() * 5_000));
      await deferFeed(deps.db, feedId, until);
      log.debug({ reason: gate.reason, until }, "fetch deferred");
      return { feedId, outcome: "deferred", status: null, items: 0, deferred: { reason: gate.reason, until } };
    }
  }

  const elapsed = () => Math.max(0, now().getTime() - startedAt.getTime());
  // Metrics time the fetch on the monotonic clock (deps.now may be a test's fixed clock).
  const t0 = performance.now();
  const observe = (outcome: "ok" | "not_modified" | "error", st: number | null, errorClass?: string) =>
    observeFetch(outcome, st, (performance.now() - t0) / 1000, errorClass);
  const record = (rec: FetchRecord, update: FeedUpdate) =>
    deps.recorder ? deps.recorder.record(rec, update) : recordFetch(deps.db, rec, update);
  const sinceLast = feed.lastCheckedAt ? startedAt.getTime() - feed.lastCheckedAt.getTime() : null;
  const schedule = (errorCount: number, itemsPerDay: number | null, notBeforeMs: number | null) =>
    nextCheckAt({ now: now(), errorCount, itemsPerDay, notBeforeMs, random: random() }, deps.schedule);
  const forceInterval = deps.forceIntervalMs ?? DEFAULT_FORCE_INTERVAL_MS;
  const unconditional =
    opts.force === true || !feed.lastForcedAt || startedAt.getTime() - feed.lastForcedAt.getTime() >= forceInterval;

  let status: number | null = null;
  let retryAfterMs: number | null = null;
  try {
    const validators = unconditional ? {} : { etag: feed.etag, lastModified: feed.lastModified };
    const res = await conditionalGet(feed.url, validators, deps.http);
    status = res.status;
    const contentType = res.headers.get("content-type");
    const finalUrl = res.url && res.url !== feed.url ? res.url : null;
    const movedTo = res.permanentUrl && res.permanentUrl !== feed.url ? res.permanentUrl : null;
    const base = { feedId, startedAt, status, bytes: res.body.length, contentType, finalUrl };
    const fresh = freshnessMs(res.headers, startedAt);
    if (res.status === 304) {
      const itemsPerDay = updateItemRate(feed.itemsPerDay, 0, sinceLast);
      await record({ ...base, durationMs: elapsed(), outcome: "not_modified", itemsFound: 0 }, {
        nextCheckAt: schedule(0, itemsPerDay, fresh), error: null, itemsPerDay, forced: unconditional, movedTo,
      });
      observe("not_modified", status);
      return { feedId, outcome: "not_modified", status, items: 0 };
    }
    if (res.status === 410) throw new IngestError("gone", "410 Gone: polling stopped", { status });
    if (res.status === 429 || res.status === 503) {
      retryAfterMs = res.retryAfterMs ?? null;
      // The host asked every client to wait: no feed of that host is fetched until then.
      if (retryAfterMs && deps.hosts) await deps.hosts.hold(res.url || feed.url, retryAfterMs);
      const wait = retryAfterMs ? ` (retry after ${Math.round(retryAfterMs / 1000)} s)` : "";
      throw new IngestError("http_status", `HTTP ${res.status}${wait}`, { status });
    }
    if (res.status < 200 || res.status >= 300) {
      throw new IngestError("http_status", `HTTP ${res.status}`, { status });
    }
    const bodyHash = sha256(res.body);
    const validatorsOut = {
      etag: res.headers.get("etag"),
      lastModified: res.headers.get("last-modified"),
      bodyHash,
    };
    if (!opts.force && bodyHash === feed.bodyHash) {
      const itemsPerDay = updateItemRate(feed.itemsPerDay, 0, sinceLast);
      await record(
        { ...base, durationMs: elapsed(), outcome: "not_modified", bodyHash, itemsFound: 0 },
        { nextCheckAt: schedule(0, itemsPerDay, fresh), validators: validatorsOut, error: null, itemsPerDay, forced: unconditional, movedTo },
      );
      observe("not_modified", status);
      return { feedId, outcome: "not_modified", status, items: 0 };
    }
    const text = decodeBody(res.body, contentType);
    const parsed = await parseFeed(text);
    const items = normalizeItems(parsed, { feedId, feedUrl: res.url || feed.url, seenAt: startedAt });
    // Only items that are new, or whose content changed, go on to dedupe.
    const stored = await storedContentHashes(deps.db, feedId, items.map((it) => it.identityKey));
    let changed = items.filter((it) => stored.get(it.identityKey) !== it.contentHash);
    const newItems = changed.filter((it) => !stored.has(it.identityKey)).length;
    if (feed.fullText && changed.length) {
      // Summaries only: fetch each item's page under the same HTTP rules and extract its text.
      const filled = await fillFullText(changed, (url) => conditionalGet(url, {}, deps.http));
      changed = filled.items;
      if (filled.counts.attempted) log.debug({ ...filled.counts, failures: filled.failures.slice(0, 3) }, "full text");
    }
    await enqueueItems(deps.itemsQueue, feedId, changed);
    const itemsPerDay = updateItemRate(feed.itemsPerDay, newItems, feed.lastSuccessAt ? sinceLast : null);
    const hint = Math.max(rssTtlMs(text) ?? 0, fresh ?? 0) || null;
    await record(
      {
        ...base, durationMs: elapsed(), outcome: "ok", bodyHash,
        bodyGzip: await gzip(res.body, { level: ARCHIVE_GZIP_LEVEL }), itemsFound: items.length,
        itemsNew: newItems, itemsUpdated: changed.length - newItems,
      },
      {
        nextCheckAt: schedule(0, itemsPerDay, hint), validators: validatorsOut, error: null,
        title: parsed.title, siteUrl: parsed.link, itemsPerDay, forced: unconditional, movedTo,
      },
    );
    observe("ok", status);
    itemsIngested.inc({ kind: "new" }, newItems);
    itemsIngested.inc({ kind: "updated" }, changed.length - newItems);
    log.debug({ status, items: items.length, new: newItems, updated: changed.length - newItems }, "feed fetched");
    return { feedId, outcome: "ok", status, items: items.length, newItems, updatedItems: changed.length - newItems };
  } catch (caught) {
    // An unexpected exception (a bug in reading, or Postgres or Redis failing) is
    // recorded on the feed as `internal`, so that the feed is rescheduled with the
    // error backoff instead of sitting out the scheduler's lease; if even that
    // record fails, the job fails with the original error.
    const internal = !(caught instanceof IngestError);
    const err = internal
      ? new IngestError("internal", `internal error: ${caught instanceof Error ? caught.message : String(caught)}`, { cause: caught })
      : caught;
    const errorCount = feed.errorCount + 1;
    if (internal) log.error({ err: caught }, "feed fetch failed with an unexpected error");
    try {
      await record(
        {
          feedId, startedAt, durationMs: elapsed(), status: err.status ?? status, outcome: "error",
          errorClass: err.code, error: err.message, bytes: 0, itemsFound: 0,
        },
        {
          nextCheckAt: schedule(errorCount, feed.itemsPerDay, retryAfterMs),
          error: { class: err.code, message: err.message }, gone: err.code === "gone",
        },
      );
    } catch (recordErr) {
      if (!internal) throw recordErr;
      observe("error", status, "internal");
      throw caught;
    }
    observe("error", err.status ?? status, err.code);
    log.warn({ errorClass: err.code, err: err.message, status: err.status ?? status }, "feed fetch failed");
    return { feedId, outcome: "error", status: err.status ?? status, items: 0, errorClass: err.code };
  }
}

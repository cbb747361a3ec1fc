import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gzip as gzipCb } from "node:zlib";
import type { Queue } from "bullmq";
import type { Logger } from "pino";
import { ITEMS_PER_JOB, JOB_NAMES, JOB_OPTIONS, type ItemPayload } from "@newsfeed/jobs";
import { getFeed, recordFetch, type Db, type FetchOutcome } from "@newsfeed/store";
import { IngestError } from "./errors.ts";
import { conditionalGet, type HttpLimits } from "./http/get.ts";
import { normalizeItems } from "./normalize.ts";
import { decodeBody } from "./parse/decode.ts";
import { parseFeed } from "./parse/parse-feed.ts";
import { nextCheckAt, type ScheduleOptions } from "./schedule.ts";

export interface PollDeps {
  db: Db;
  itemsQueue: Queue;
  http: HttpLimits;
  schedule: ScheduleOptions;
  logger: Logger;
  random?: () => number;
  now?: () => Date;
}

export interface PollResult {
  feedId: number;
  outcome: FetchOutcome | "skipped";
  status: number | null;
  items: number;
  errorClass?: string;
}

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
 * conditional GET, "not modified" on 304 or an unchanged body, parse, normalize,
 * queue the items, then record the fetch and the feed's next check. Items are
 * queued before the validators are saved, so a crash in between re-reads the
 * body rather than losing it.
 */
export async function pollFeed(deps: PollDeps, feedId: number, opts: { force?: boolean } = {}): Promise<PollResult> {
  const now = deps.now ?? (() => new Date());
  const random = deps.random ?? Math.random;
  const feed = await getFeed(deps.db, feedId);
  if (!feed || feed.state !== "active") return { feedId, outcome: "skipped", status: null, items: 0 };
  const log = deps.logger.child({ feedId });
  const startedAt = now();
  const elapsed = () => Math.max(0, now().getTime() - startedAt.getTime());
  const schedule = (errorCount: number) =>
    nextCheckAt({ now: now(), errorCount, random: random() }, deps.schedule);

  let status: number | null = null;
  try {
    const validators = opts.force ? {} : { etag: feed.etag, lastModified: feed.lastModified };
    const res = await conditionalGet(feed.url, validators, deps.http);
    status = res.status;
    const contentType = res.headers.get("content-type");
    const base = { feedId, startedAt, status, bytes: res.body.length, contentType };
    if (res.status === 304) {
      await recordFetch(deps.db, { ...base, durationMs: elapsed(), outcome: "not_modified", itemsFound: 0 }, {
        nextCheckAt: schedule(0), error: null,
      });
      return { feedId, outcome: "not_modified", status, items: 0 };
    }
    if (res.status === 410) throw new IngestError("gone", "410 Gone: polling stopped", { status });
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
      await recordFetch(
        deps.db,
        { ...base, durationMs: elapsed(), outcome: "not_modified", bodyHash, itemsFound: 0 },
        { nextCheckAt: schedule(0), validators: validatorsOut, error: null },
      );
      return { feedId, outcome: "not_modified", status, items: 0 };
    }
    const parsed = await parseFeed(decodeBody(res.body, contentType));
    const items = normalizeItems(parsed, { feedId, feedUrl: feed.url, seenAt: startedAt });
    await enqueueItems(deps.itemsQueue, feedId, items);
    await recordFetch(
      deps.db,
      {
        ...base, durationMs: elapsed(), outcome: "ok", bodyHash,
        bodyGzip: await gzip(res.body, { level: ARCHIVE_GZIP_LEVEL }), itemsFound: items.length,
      },
      {
        nextCheckAt: schedule(0), validators: validatorsOut, error: null,
        title: parsed.title, siteUrl: parsed.link,
      },
    );
    log.debug({ status, items: items.length }, "feed fetched");
    return { feedId, outcome: "ok", status, items: items.length };
  } catch (err) {
    if (!(err instanceof IngestError)) throw err;
    const errorCount = feed.errorCount + 1;
    await recordFetch(
      deps.db,
      {
        feedId, startedAt, durationMs: elapsed(), status: err.status ?? status, outcome: "error",
        errorClass: err.code, error: err.message, bytes: 0, itemsFound: 0,
      },
      { nextCheckAt: schedule(errorCount), error: { class: err.code, message: err.message }, gone: err.code === "gone" },
    );
    log.warn({ errorClass: err.code, err: err.message, status: err.status ?? status }, "feed fetch failed");
    return { feedId, outcome: "error", status: err.status ?? status, items: 0, errorClass: err.code };
  }
}

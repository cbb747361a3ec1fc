/**
 * Where replayed items go: compared with the stored version, and the new and
 * changed ones sent through the dedupe stage in-process, a batch at a time, so
 * that the closing summary is exact. On a dry run nothing is sent: the counts
 * come from the comparison alone and nothing is written (no row, no Redis key).
 */
import { Redis } from "ioredis";
import { dedupeBatch, type DedupeDeps } from "@newsfeed/dedupe";
import { closeHttp, conditionalGet, fillFullText, IngestError, replayVerdict, type FetchPage, type HttpLimits } from "@newsfeed/ingest";
import { ITEMS_PER_JOB, type ItemPayload } from "@newsfeed/jobs";
import { assertSchemaCurrent, createDb, storedItemVersions, type Db, type DbHandle } from "@newsfeed/store";
import { splitList, type Config } from "../config.ts";
import { safe } from "../format.ts";
import { emptySummary, type Progress, type ReplaySummary } from "../progress.ts";
import { createIndex, dedupeSettings } from "../runtime.ts";

export interface ReplayFailure {
  /** What failed: "fetch 81 (feed 3, 2024-05-01T10:00:00.000Z)", "line 7", "feed 3: 100 items". */
  what: string;
  error: string;
}

export interface ReplayReport extends ReplaySummary {
  /** Of `unchanged`: stored with another content hash but seen later than the replayed version, so kept. */
  older?: number;
  failures: ReplayFailure[];
}

/** "parse: not a readable feed …" for classified ingest errors, else the message. */
export function errorText(err: unknown): string {
  if (err instanceof IngestError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export class ReplaySink {
  readonly report: ReplayReport;

  constructor(
    private readonly db: Db,
    /** null: a dry run. */
    private readonly dedupe: DedupeDeps | null,
    /** Fetches article pages for new and changed items of full-text feeds (--fetch-pages). */
    private readonly fetchPage?: FetchPage,
  ) {
    this.report = { ...emptySummary(dedupe === null), older: 0, failures: [] };
  }

  /** Counts something that could not be processed (one unit of `failed`). */
  fail(what: string, err: unknown): void {
    this.report.failed++;
    this.report.failures.push({ what, error: errorText(err) });
  }

  /**
   * One feed's items (one version per identity): the unchanged and older ones
   * are counted and dropped, the others deduped (or, on a dry run, counted).
   */
  async apply(feed: { id: number; fullText: boolean }, items: readonly ItemPayload[], onBatch?: (done: number) => void): Promise<void> {
    const r = this.report;
    for (let i = 0; i < items.length; i += ITEMS_PER_JOB) {
      const batch = items.slice(i, i + ITEMS_PER_JOB);
      const stored = await storedItemVersions(this.db, feed.id, batch.map((it) => it.identityKey));
      let send: ItemPayload[] = [];
      let isNew = 0;
      for (const it of batch) {
        const verdict = replayVerdict(it, stored.get(it.identityKey));
        if (verdict === "unchanged" || verdict === "older") {
          r.unchanged++;
          if (verdict === "older") r.older = (r.older ?? 0) + 1;
        } else {
          send.push(it);
          if (verdict === "new") isNew++;
        }
      }
      r.read += batch.length;
      if (!this.dedupe) {
        r.new += isNew;
        r.updated += send.length - isNew;
      } else if (send.length) {
        try {
          if (feed.fullText && this.fetchPage) {
            send = (await fillFullText(send, this.fetchPage, { maxPages: send.length })).items;
          }
          const res = await dedupeBatch(this.dedupe, send);
          r.new += res.itemsInserted;
          r.updated += res.itemsUpdated;
          // Written by someone else meanwhile (a worker), or refused as older by the store.
          r.unchanged += send.length - res.itemsInserted - res.itemsUpdated;
        } catch (err) {
          r.failed += send.length;
          r.failures.push({ what: `feed ${feed.id}: ${send.length} items`, error: errorText(err) });
        }
      }
      onBatch?.(i + batch.length);
    }
  }
}

/** The connections a replay needs: Postgres, and Redis (the dedupe index) unless it is a dry run. */
export interface ReplayEnv {
  db: DbHandle;
  sink: ReplaySink;
  close(): Promise<void>;
}

export async function openReplay(config: Config, opts: { dryRun: boolean; fetchPages?: boolean }): Promise<ReplayEnv> {
  const db = createDb(config.DATABASE_URL, { max: 2, applicationName: "newsfeed-replay" });
  let redis: Redis | undefined;
  let http: HttpLimits | undefined;
  const close = async () => {
    if (http) await closeHttp(http).catch(() => {});
    if (redis) await redis.quit().catch(() => redis!.disconnect());
    await db.close();
  };
  try {
    await assertSchemaCurrent(db.pool);
    let dedupe: DedupeDeps | null = null;
    if (!opts.dryRun) {
      redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
      dedupe = { db: db.db, index: createIndex(config, redis), settings: dedupeSettings(config) };
    }
    let fetchPage: FetchPage | undefined;
    if (opts.fetchPages && !opts.dryRun) {
      const limits: HttpLimits = {
        timeoutMs: config.FETCH_TIMEOUT_MS, connectTimeoutMs: config.FETCH_CONNECT_TIMEOUT_MS, maxBytes: config.FETCH_MAX_BYTES,
        maxRedirects: config.FETCH_MAX_REDIRECTS, userAgent: config.USER_AGENT, allowPrivate: splitList(config.FETCH_ALLOW_PRIVATE),
      };
      http = limits;
      fetchPage = (url) => conditionalGet(url, {}, limits);
    }
    return { db, sink: new ReplaySink(db.db, dedupe, fetchPage), close };
  } catch (err) {
    await close();
    throw err;
  }
}

const SHOWN_FAILURES = 20;

/**
 * Ends a replay: the progress, then the summary (one JSON object with `extra`,
 * or a line on stdout, failures on stderr). Returns the exit code: 1 when
 * anything failed.
 */
export function finishReplay(
  progress: Progress,
  report: ReplayReport,
  opts: { json: boolean; line: (r: ReplayReport) => string; extra?: Record<string, unknown> },
): number {
  progress.finish();
  if (opts.json) console.log(JSON.stringify({ ...report, ...opts.extra }));
  else {
    for (const f of report.failures.slice(0, SHOWN_FAILURES)) console.error(`failed: ${safe(f.what)}: ${safe(f.error)}`);
    if (report.failures.length > SHOWN_FAILURES) {
      console.error(`… and ${report.failures.length - SHOWN_FAILURES} more failures (see --json)`);
    }
    console.log(opts.line(report));
  }
  return report.failed > 0 ? 1 : 0;
}

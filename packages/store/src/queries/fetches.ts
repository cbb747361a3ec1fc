import type { Db } from "../client.ts";
import { deleteFetches } from "./prune.ts";

export type FetchOutcome = "ok" | "not_modified" | "error";

export interface FetchRecord {
  feedId: number;
  startedAt: Date;
  durationMs: number;
  status: number | null;
  outcome: FetchOutcome;
  errorClass?: string | null;
  error?: string | null;
  bytes: number;
  contentType?: string | null;
  bodyHash?: string | null;
  /** gzip of the body; pass it only when the body changed. */
  bodyGzip?: Buffer | null;
  itemsFound: number;
  /** Items new to the store, and stored items whose content changed. */
  itemsNew?: number;
  itemsUpdated?: number;
  /** The URL the body came from, when redirects led elsewhere. */
  finalUrl?: string | null;
}

export interface FeedUpdate {
  nextCheckAt: Date;
  /** Present on success: new validators and body hash (null clears). */
  validators?: { etag: string | null; lastModified: string | null; bodyHash: string | null };
  title?: string | null;
  siteUrl?: string | null;
  /** null on success; set on failure. */
  error: { class: string; message: string } | null;
  /** 410 Gone: stop polling. */
  gone?: boolean;
  /** New estimate of the feed's items per day (undefined keeps it). */
  itemsPerDay?: number | null;
  /** The fetch was sent without validators (the periodic forced fetch). */
  forced?: boolean;
  /** Every redirect was permanent: the feed moves to this URL (unless another feed has it). */
  movedTo?: string | null;
}

/**
 * Records one fetch and updates its feed in one transaction: validators,
 * next check, error state (a success resets the error count).
 */
export async function recordFetch(db: Db, rec: FetchRecord, update: FeedUpdate): Promise<number> {
  const [id] = await recordFetches(db, [{ rec, update }]);
  return id!;
}

/**
 * Records fetches and updates their feeds in one transaction (one INSERT and one
 * UPDATE for the whole batch, one parameter per column); returns the fetch ids.
 * A feed may appear once per batch (FetchRecorder sees to it).
 */
export async function recordFetches(db: Db, batch: readonly { rec: FetchRecord; update: FeedUpdate }[]): Promise<number[]> {
  if (batch.length === 0) return [];
  const col = <T>(f: (x: { rec: FetchRecord; update: FeedUpdate }) => T) => batch.map(f);
  const client = await db.$client.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ id: string; feed_id: string }>(
      `INSERT INTO fetches (feed_id, started_at, duration_ms, status, outcome, error_class, error,
                            bytes, content_type, body_hash, body_gzip, items_found, items_new, items_updated, final_url)
       SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[],
                            $8::int[], $9::text[], $10::text[], $11::bytea[], $12::int[], $13::int[], $14::int[], $15::text[])
       RETURNING id, feed_id`,
      [
        col((b) => b.rec.feedId), col((b) => b.rec.startedAt), col((b) => b.rec.durationMs), col((b) => b.rec.status),
        col((b) => b.rec.outcome), col((b) => b.rec.errorClass ?? null), col((b) => b.rec.error ?? null),
        col((b) => b.rec.bytes), col((b) => b.rec.contentType ?? null), col((b) => b.rec.bodyHash ?? null),
        col((b) => b.rec.bodyGzip ?? null), col((b) => b.rec.itemsFound), col((b) => b.rec.itemsNew ?? 0),
        col((b) => b.rec.itemsUpdated ?? 0), col((b) => b.rec.finalUrl ?? null),
      ],
    );
    await client.query(
      `UPDATE feeds SET
          next_check_at = u.next_check_at,
          last_checked_at = u.started_at,
          etag = CASE WHEN u.has_validators THEN u.etag ELSE feeds.etag END,
          last_modified = CASE WHEN u.has_validators THEN u.last_modified ELSE feeds.last_modified END,
          body_hash = CASE WHEN u.has_validators THEN u.body_hash ELSE feeds.body_hash END,
          title = COALESCE(u.title, feeds.title),
          site_url = COALESCE(u.site_url, feeds.site_url),
          last_success_at = CASE WHEN u.error_class IS NULL THEN u.started_at ELSE feeds.last_success_at END,
          error_count = CASE WHEN u.error_class IS NULL THEN 0 ELSE feeds.error_count + 1 END,
          error_class = u.error_class,
          last_error = u.last_error,
          state = CASE WHEN u.gone THEN 'gone' ELSE feeds.state END,
          items_per_day = CASE WHEN u.has_rate THEN u.items_per_day ELSE feeds.items_per_day END,
          last_forced_at = CASE WHEN u.forced THEN u.started_at ELSE feeds.last_forced_at END,
          url = CASE WHEN u.moved_to IS NOT NULL AND NOT EXISTS (SELECT 1 FROM feeds f WHERE f.url = u.moved_to)
                     THEN u.moved_to ELSE feeds.url END,
          updated_at = now()
        FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::boolean[], $5::text[], $6::text[], $7::text[],
                    $8::text[], $9::text[], $10::text[], $11::text[], $12::boolean[], $13::boolean[], $14::real[],
                    $15::boolean[], $16::text[])
          AS u(id, next_check_at, started_at, has_validators, etag, last_modified, body_hash, title, site_url,
               error_class, last_error, gone, has_rate, items_per_day, forced, moved_to)
        WHERE feeds.id = u.id`,
      [
        col((b) => b.rec.feedId), col((b) => b.update.nextCheckAt), col((b) => b.rec.startedAt),
        col((b) => b.update.validators !== undefined), col((b) => b.update.validators?.etag ?? null),
        col((b) => b.update.validators?.lastModified ?? null), col((b) => b.update.validators?.bodyHash ?? null),
        col((b) => b.update.title ?? null), col((b) => b.update.siteUrl ?? null), col((b) => b.update.error?.class ?? null),
        col((b) => b.update.error?.message ?? null), col((b) => b.update.gone === true),
        col((b) => b.update.itemsPerDay !== undefined), col((b) => b.update.itemsPerDay ?? null),
        col((b) => b.update.forced === true), col((b) => b.update.movedTo ?? null),
      ],
    );
    await client.query("COMMIT");
    const ids = new Map(rows.map((r) => [Number(r.feed_id), Number(r.id)]));
    return batch.map((b) => ids.get(b.rec.feedId)!);
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Gathers the fetch records of concurrent polls into one transaction: a record
 * waits at most `maxDelayMs` (or until `maxBatch` are waiting), and its promise
 * settles when its batch is committed, so a poll still returns only once its
 * fetch is recorded. Under load this turns a commit per fetch into a commit per
 * batch.
 */
export class FetchRecorder {
  private pending: { rec: FetchRecord; update: FeedUpdate; resolve: (id: number) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly opts: { maxBatch?: number; maxDelayMs?: number } = {},
  ) {}

  record(rec: FetchRecord, update: FeedUpdate): Promise<number> {
    return new Promise((resolve, reject) => {
      // One feed once per batch: the feed row's update must see the previous one.
      if (this.pending.some((p) => p.rec.feedId === rec.feedId)) this.flush();
      this.pending.push({ rec, update, resolve, reject });
      if (this.pending.length >= (this.opts.maxBatch ?? 200)) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.maxDelayMs ?? 10);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    recordFetches(this.db, batch).then(
      (ids) => batch.forEach((b, i) => b.resolve(ids[i]!)),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }
}

/** Moves a feed's next check to `until` without fetching (over its host's budget, or the host asked to wait). */
export async function deferFeed(db: Db, feedId: number, until: Date): Promise<void> {
  await db.$client.query(`UPDATE feeds SET next_check_at = $2, updated_at = now() WHERE id = $1`, [feedId, until]);
}

/** The stored content hash of each of the feed's items among `identityKeys`. */
export async function storedContentHashes(db: Db, feedId: number, identityKeys: readonly string[]): Promise<Map<string, string>> {
  if (identityKeys.length === 0) return new Map();
  const { rows } = await db.$client.query<{ identity_key: string; content_hash: string }>(
    `SELECT identity_key, content_hash FROM items WHERE feed_id = $1 AND identity_key = ANY($2::text[])`,
    [feedId, identityKeys],
  );
  return new Map(rows.map((r) => [r.identity_key, r.content_hash]));
}

/**
 * Deletes fetch history older than `before`, in batches of `batchSize` rows (each
 * its own short statement, so writers never wait long); returns the rows removed.
 * The retention command's own fetch step (see prune.ts).
 */
export async function pruneFetches(db: Db, before: Date, batchSize = 5_000): Promise<number> {
  return (await deleteFetches(db, before, batchSize)).rows;
}

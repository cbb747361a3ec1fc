import type { Db } from "../client.ts";

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
}

/**
 * Records one fetch and updates its feed in one transaction: validators,
 * next check, error state (a success resets the error count).
 */
export async function recordFetch(db: Db, rec: FetchRecord, update: FeedUpdate): Promise<number> {
  const client = await db.$client.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO fetches (feed_id, started_at, duration_ms, status, outcome, error_class, error,
                            bytes, content_type, body_hash, body_gzip, items_found)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING id`,
      [
        rec.feedId, rec.startedAt, rec.durationMs, rec.status, rec.outcome, rec.errorClass ?? null,
        rec.error ?? null, rec.bytes, rec.contentType ?? null, rec.bodyHash ?? null, rec.bodyGzip ?? null,
        rec.itemsFound,
      ],
    );
    const v = update.validators;
    await client.query(
      `UPDATE feeds SET
          next_check_at = $2,
          last_checked_at = $3,
          etag = CASE WHEN $4::boolean THEN $5 ELSE etag END,
          last_modified = CASE WHEN $4::boolean THEN $6 ELSE last_modified END,
          body_hash = CASE WHEN $4::boolean THEN $7 ELSE body_hash END,
          title = COALESCE($8, title),
          site_url = COALESCE($9, site_url),
          last_success_at = CASE WHEN $10::text IS NULL THEN $3 ELSE last_success_at END,
          error_count = CASE WHEN $10::text IS NULL THEN 0 ELSE error_count + 1 END,
          error_class = $10,
          last_error = $11,
          state = CASE WHEN $12::boolean THEN 'gone' ELSE state END,
          updated_at = now()
        WHERE id = $1`,
      [
        rec.feedId, update.nextCheckAt, rec.startedAt, v !== undefined, v?.etag ?? null, v?.lastModified ?? null,
        v?.bodyHash ?? null, update.title ?? null, update.siteUrl ?? null, update.error?.class ?? null,
        update.error?.message ?? null, update.gone === true,
      ],
    );
    await client.query("COMMIT");
    return Number(rows[0]!.id);
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/**
 * bench:sql's seed: a realistic newsfeed database written with set-based SQL (INSERT … SELECT
 * over generate_series and a few staged arrays), in the shape the app leaves it:
 *
 * - stories spread evenly over the last DAYS days; sizes skewed (about half singletons, most of
 *   the rest 2–9 copies, a few percent 10–40), each copy from a distinct outlet; copies published
 *   1 min–6 h (log-uniform) after the story's first, seen 30 s–25 min after publication, 3% undated;
 * - item and story ids in arrival order, as bigserials give them; texts and titles from a corpus
 *   (the wire-reprint benchmark when present), copies with the usual edits (dateline, trimmed
 *   ending, credit line, restyled headline);
 * - stories' aggregates computed from their members by the app's rule (saveAssignments: the
 *   canonical copy is the earliest published, else first seen; ties to the longest text, then
 *   the lowest id). Copy times never tie within a story here, so the tie-breaks never apply;
 *   bench/sql-check.ts verifies both;
 * - merges: a story founded by one of another story's copies and merged into it when a later
 *   copy matched both (copies 0, merged_into_id, a story_merges row);
 * - fetches at each feed's polling interval (24 h / items per day, 5 min–24 h), ok when a new
 *   item had appeared (body archived), else not modified, 1% transient errors; feeds with
 *   f % 50 = 13 or 29 failing since some hours or days (backing off), f % 50 = 7 gone (410),
 *   f % 50 = 41 one failure just now. Items a feed would have carried once down go to the next feed.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";

export interface SeedOptions {
  items: number;
  stories: number;
  feeds: number;
  days: number;
  /** Mean gzip body archived per ok fetch (bytes, incompressible). */
  bodyBytes: number;
  /** The text corpus: one title and text per base article. */
  corpus: { title: string; text: string }[];
}

export interface SeedStep {
  what: string;
  ms: number;
}

const SMALL_WEIGHT = 0.6;

/** Story sizes summing to exactly `items`, with a mean near items / stories (see the header). */
export function storySizes(items: number, stories: number, feeds: number, rand: () => number): number[] {
  const maxSmall = Math.min(9, feeds);
  const maxBig = Math.min(40, feeds);
  const minBig = Math.min(10, maxBig);
  const small: number[] = [];
  for (let k = 2; k <= maxSmall; k++) small.push(SMALL_WEIGHT ** (k - 2));
  const smallTotal = small.reduce((a, b) => a + b, 0);
  const ms = small.length ? small.reduce((a, w, i) => a + w * (i + 2), 0) / smallTotal : 1;
  const mb = (minBig + maxBig) / 2;
  const m = items / stories;
  // mean = p1 + (1 − p1 − pb)·ms + pb·mb, with p1 = 0.5 unless that cannot reach the mean.
  let p1 = 0.5;
  let pb = mb > ms ? (m - p1 - (1 - p1) * ms) / (mb - ms) : 0;
  if (pb < 0.005) {
    pb = feeds >= 10 ? 0.005 : 0;
    p1 = ms > 1 ? Math.min(1 - pb, Math.max(0, ((1 - pb) * ms + pb * mb - m) / (ms - 1))) : 1;
  } else if (pb > 1 - p1) {
    p1 = Math.max(0, (mb - m) / (mb - 1));
    pb = 1 - p1;
  }
  const sizes: number[] = [];
  let sum = 0;
  while (sum < items) {
    const u = rand();
    let size: number;
    if (u < p1) size = 1;
    else if (u < 1 - pb || maxBig < 10) {
      let w = rand() * smallTotal;
      size = 2;
      for (let i = 0; i < small.length && w > small[i]!; i++, size++) w -= small[i]!;
      size = Math.min(size, Math.max(1, maxSmall));
    } else size = minBig + Math.floor(rand() * (maxBig - minBig + 1));
    size = Math.min(size, items - sum);
    sizes.push(size);
    sum += size;
  }
  return sizes;
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
/** Strides that walk every feed before repeating one: copies of a story land on distinct outlets. */
const strides = (feeds: number) => {
  const s = [7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53].filter((p) => gcd(p, feeds) === 1);
  return s.length ? s : [1];
};

const DATELINES = ["LONDON", "NEW YORK", "WASHINGTON", "TOKYO", "PARIS", "FRANKFURT", "SYDNEY", "NAIROBI", "SAO PAULO", "SINGAPORE"];

type Statement = [sql: string, params?: unknown[]];

/**
 * Seeds the scratch database in two sessions: items, stories and merges in one, fetches and the
 * feeds' state in the other, at the same time. Staging tables live in the unlogged schema
 * bench_seed, dropped at the end. Foreign-key triggers are off while loading
 * (session_replication_role = replica: the rows are consistent by construction, and bench:sql's
 * check verifies every reference afterwards); the indexes are those of the migrations, kept
 * up to date row by row as in production, so that their sizes are realistic.
 */
export async function seed(pool: pg.Pool, o: SeedOptions, sizes: number[], log: (s: SeedStep) => void): Promise<void> {
  const a = await pool.connect();
  const b = await pool.connect();
  // A query's failure reaches its caller; a connection lost between queries (the database dropped
  // on Ctrl-C) must not crash the process as an unhandled 'error' event.
  for (const conn of [a, b]) conn.on("error", () => {});
  try {
    await seedWith(a, b, o, sizes, log);
  } finally {
    for (const conn of [a, b]) {
      await conn.query("RESET ALL").catch(() => {});
      conn.release();
    }
  }
}

async function seedWith(c: pg.PoolClient, c2: pg.PoolClient, o: SeedOptions, sizes: number[], log: (s: SeedStep) => void): Promise<void> {
  // One statement a query: the extended protocol (parameters) takes no more.
  const stepOn = async (conn: pg.PoolClient, what: string, ...statements: Statement[]) => {
    const t0 = performance.now();
    for (const [sql, params] of statements) await conn.query(sql, params ?? []);
    log({ what, ms: performance.now() - t0 });
  };
  const step = (what: string, ...statements: Statement[]) => stepOn(c, what, ...statements);
  const span = o.days * 86400;
  const blob = randomBytes(Math.max(1 << 20, 2 * o.bodyBytes));
  await c.query(`DROP SCHEMA IF EXISTS bench_seed CASCADE; CREATE SCHEMA bench_seed`);
  for (const conn of [c, c2]) {
    await conn.query(
      `SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'; SET synchronous_commit = off;
       SET session_replication_role = replica; SET search_path = bench_seed, public`,
    );
  }
  const { rows } = await c.query<{ now: Date }>(`SELECT date_trunc('second', now()) AS now`);
  const now = rows[0]!.now;

  await step(
    "staging: corpus, stories, members",
    [
      `CREATE UNLOGGED TABLE corpus AS
         SELECT n::int, title, text, ($3::text[])[1 + n % cardinality($3::text[])] AS dateline,
                trim(both '-' from lower(regexp_replace(left(title, 60), '[^a-zA-Z0-9]+', '-', 'g'))) AS slug
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(title, text, n)`,
      [o.corpus.map((d) => d.title), o.corpus.map((d) => d.text), DATELINES],
    ],
    [`ALTER TABLE corpus ADD PRIMARY KEY (n)`],
    [
      `CREATE UNLOGGED TABLE down AS
         SELECT f AS feed_id, CASE WHEN f % 50 = 7 THEN 'gone' ELSE 'broken' END AS kind,
                $1::timestamptz - make_interval(secs => CASE WHEN f % 50 = 7
                  THEN 86400 * (1 + 10 * ((f * 0.618034) % 1)) ELSE 21600 + 432000 * ((f * 0.618034) % 1) END) AS down_at
           FROM generate_series(1, $2::int) AS f WHERE f % 50 IN (7, 13, 29)`,
      [now, o.feeds],
    ],
    [
      `CREATE UNLOGGED TABLE st AS
         SELECT k::int AS story_no, size,
                $1::timestamptz - make_interval(secs => $2::float8) + make_interval(secs => ($2::float8 - 1800) * (k - 1 + random()) / $3::int) AS t0,
                floor($4::int * random() ^ 1.5)::int AS h,
                ($5::int[])[1 + k % cardinality($5::int[])] AS stride,
                1 + (k * 7919) % $6::int AS doc
           FROM unnest($7::int[]) WITH ORDINALITY AS u(size, k)`,
      [now, span, sizes.length, o.feeds, strides(o.feeds), o.corpus.length, sizes],
    ],
    [
      `CREATE UNLOGGED TABLE mi AS
         WITH c AS (
           SELECT st.story_no, g.j, st.doc, st.t0, 1 + (st.h + g.j * st.stride) % $2::int AS feed0,
                  -- delays shrink for stories younger than 6 h 26 min, so that every copy is seen by now
                  CASE WHEN g.j = 0 THEN 0 ELSE floor(60 * exp(random() * ln(360))
                    * LEAST(1, (EXTRACT(EPOCH FROM $1::timestamptz - st.t0) - 1560) / 21600)) END AS delay_s,
                  random() AS u_pub, 30 + floor(random() * 1470) AS lag_s, random() AS u_edit, random() AS u_dist
             FROM st CROSS JOIN LATERAL generate_series(0, st.size - 1) AS g(j)
         ), t AS (
           -- No two copies of a story share a time (copy j is j µs past a whole second, its first sighting
           -- half a second later): the canonical copy is the earliest, whatever the tie-breaks.
           SELECT c.*, c.t0 + make_interval(secs => c.delay_s + c.j * 1e-6) AS at FROM c
         ), s AS (
           SELECT t.*, t.at + make_interval(secs => t.lag_s + 0.5) AS seen FROM t
         ), m AS (
           SELECT s.story_no, s.j, s.doc,
                  CASE WHEN d.down_at IS NOT NULL AND s.seen >= d.down_at THEN s.feed0 % $2::int + 1 ELSE s.feed0 END AS feed_id,
                  CASE WHEN s.u_pub < 0.03 THEN NULL ELSE s.at END AS published_at,
                  s.seen AS first_seen_at,
                  CASE WHEN s.u_edit < 0.05 THEN LEAST(s.seen + make_interval(secs => s.u_edit * 20 * 43200), $1::timestamptz)
                       ELSE s.seen END AS last_seen_at,
                  CASE WHEN s.j = 0 THEN 0 ELSE floor(s.u_dist ^ 2 * 13)::int END AS distance,
                  CASE WHEN s.j = 0 THEN 1::real ELSE (0.55 + 0.45 * random())::real END AS similarity
             FROM s LEFT JOIN down d ON d.feed_id = s.feed0
         )
         SELECT row_number() OVER (ORDER BY first_seen_at, story_no, j) AS item_id, m.* FROM m`,
      [now, o.feeds],
    ],
  );

  await step(
    "feeds",
    [
      `INSERT INTO feeds (id, url, title, site_url, created_at, updated_at, full_text)
     SELECT f, 'https://www.outlet' || f || '.example/' || (ARRAY['rss', 'feed', 'atom.xml', 'rss.xml'])[1 + f % 4],
            CASE WHEN f % 10 = 3 THEN NULL ELSE 'Outlet ' || f END, 'https://www.outlet' || f || '.example/',
            $1::timestamptz - make_interval(secs => $2::float8 + 86400), $1::timestamptz, f % 10 = 0
       FROM generate_series(1, $3::int) AS f`,
      [now, span, o.feeds],
    ],
  );

  await step(
    "staging: feeds' polling intervals",
    [
      `CREATE UNLOGGED TABLE fr AS
       SELECT f.id AS feed_id, COALESCE(n.items, 0) / $1::float8 AS per_day,
              LEAST(86400, GREATEST(300, 86400 / NULLIF(n.items / $1::float8, 0)))::float8 AS iv,
              GREATEST(64, round($2::int * (0.5 + (f.id * 0.618034) % 1)))::int AS body_len,
              d.kind, d.down_at
         FROM feeds f
         LEFT JOIN (SELECT feed_id, count(*) AS items FROM mi GROUP BY feed_id) n ON n.feed_id = f.id
         LEFT JOIN down d ON d.feed_id = f.id`,
      [o.days, o.bodyBytes],
    ],
    [`UPDATE fr SET iv = 86400 WHERE iv IS NULL`],
  );

  const stories = async () => {
    await step(
      "items",
      [
        `INSERT INTO items (id, feed_id, identity_key, guid, url, canonical_url, title, text, published_at,
                          first_seen_at, last_seen_at, content_hash, simhash)
       SELECT mi.item_id, mi.feed_id,
              CASE WHEN u.guid IS NOT NULL THEN 'guid:' || u.guid ELSE 'url:' || u.canon END,
              u.guid, u.canon || CASE WHEN mi.item_id % 5 = 0 THEN '?utm_source=rss&utm_medium=feed' ELSE '' END, u.canon,
              CASE WHEN mi.j = 0 OR mi.item_id % 3 <> 0 THEN c.title
                   WHEN mi.item_id % 2 = 0 THEN upper(left(c.title, 1)) || lower(substr(c.title, 2))
                   ELSE c.title || ' | Outlet ' || mi.feed_id END,
              CASE WHEN mi.j = 0 THEN c.text
                   ELSE CASE mi.item_id % 4
                     WHEN 0 THEN c.text
                     WHEN 1 THEN c.dateline || ' (Outlet ' || mi.feed_id || ') - ' || c.text
                     WHEN 2 THEN left(c.text, GREATEST(200, length(c.text) * 4 / 5))
                     ELSE c.text || E'\\n\\nReporting by Staff; editing by Desk ' || mi.feed_id END END,
              mi.published_at, mi.first_seen_at, mi.last_seen_at,
              md5(mi.feed_id || ':' || mi.item_id || ':' || mi.last_seen_at),
              ('x' || left(md5('story' || mi.story_no), 16))::bit(64)::bigint # ((1::bigint << mi.distance) - 1)
         -- In item_id order, as the app inserts them: mi sorted, then a nested loop (the OFFSET 0s keep the
         -- planner from turning the lateral lookup into a join that could reorder the rows).
         FROM (SELECT * FROM mi ORDER BY item_id OFFSET 0) mi
         CROSS JOIN LATERAL (SELECT c.title, c.text, c.dateline, c.slug FROM corpus c WHERE c.n = mi.doc OFFSET 0) c
         CROSS JOIN LATERAL (
           SELECT 'https://www.outlet' || mi.feed_id || '.example/news/'
                    || to_char(COALESCE(mi.published_at, mi.first_seen_at) AT TIME ZONE 'UTC', 'YYYY/MM/DD') || '/'
                    || c.slug || '-' || mi.item_id AS canon,
                  CASE WHEN mi.item_id % 5 < 3 THEN 'https://www.outlet' || mi.feed_id || '.example/?p=' || mi.item_id END AS guid
         ) u`,
      ],
      [`ANALYZE items`],
    );

    await step(
      "stories (aggregates from members)",
      [
        // Aggregates from the staged members; the canonical copy is the earliest (copy times never tie:
        // see mi), and its title and URL come from the items just written.
        `INSERT INTO stories (id, key, canonical_item_id, title, url, first_seen_at, last_seen_at, copies, outlets, created_at, updated_at)
         SELECT a.story_no, left(md5('key' || a.story_no), 16), a.canon, i.title, COALESCE(i.canonical_url, i.url),
                a.fs, a.ls, a.copies, a.outlets, a.fs, a.ls
           FROM (SELECT story_no, count(*)::int AS copies, count(DISTINCT feed_id)::int AS outlets,
                        min(first_seen_at) AS fs, max(last_seen_at) AS ls,
                        (array_agg(item_id ORDER BY COALESCE(published_at, first_seen_at), item_id))[1] AS canon
                   FROM mi GROUP BY story_no) a
           JOIN items i ON i.id = a.canon
          ORDER BY a.story_no`,
      ],
      [`ANALYZE stories`],
    );

    await step(
      "story_items",
      [
        // feed_id and first_seen_at given, as the trigger would copy them from items (it only fires when they are not).
        `INSERT INTO story_items (story_id, item_id, distance, similarity, added_at, feed_id, first_seen_at)
         SELECT story_no, item_id, distance, similarity, first_seen_at, feed_id, first_seen_at FROM (SELECT * FROM mi ORDER BY item_id OFFSET 0) mi`,
      ],
      [`ANALYZE story_items`],
    );

    const merges = Math.max(1, Math.round(sizes.length * 0.01));
    await step(
      `merges (${merges.toLocaleString("en")})`,
      [
        `CREATE UNLOGGED TABLE mg AS
         SELECT (SELECT max(id) FROM stories) + row_number() OVER (ORDER BY x.seen, s.id) AS from_id, s.id AS into_id,
                x.id AS x_id, x.title, x.url, x.seen AS x_seen, y.id AS y_id, y.seen AS y_seen
           FROM (SELECT id FROM stories WHERE copies >= 3 ORDER BY md5(id::text) LIMIT $1) s
           CROSS JOIN LATERAL (
             SELECT i.id, i.title, COALESCE(i.canonical_url, i.url) AS url, i.first_seen_at AS seen
               FROM story_items si JOIN items i ON i.id = si.item_id WHERE si.story_id = s.id
              ORDER BY i.first_seen_at, i.id OFFSET 1 LIMIT 1) x
           CROSS JOIN LATERAL (
             SELECT i.id, i.first_seen_at AS seen
               FROM story_items si JOIN items i ON i.id = si.item_id WHERE si.story_id = s.id
              ORDER BY i.first_seen_at DESC, i.id DESC LIMIT 1) y`,
        [merges],
      ],
      [
        `INSERT INTO stories (id, key, canonical_item_id, title, url, first_seen_at, last_seen_at, copies, outlets,
                            merged_into_id, created_at, updated_at)
       SELECT from_id, left(md5('key' || from_id), 16), x_id, title, url, x_seen, x_seen, 0, 0, into_id, x_seen, y_seen
         FROM mg ORDER BY from_id`,
      ],
      [
        `INSERT INTO story_merges (from_story_id, into_story_id, item_id, merged_at)
         SELECT from_id, into_id, y_id, y_seen FROM mg ORDER BY y_seen`,
      ],
    );

  };

  const fetches = async () => {
    await stepOn(
      c2,
      "fetches (in a second session)",
      [
        `INSERT INTO fetches (feed_id, started_at, duration_ms, status, outcome, error_class, error, bytes, content_type,
                            body_hash, body_gzip, items_found, items_new, items_updated, final_url)
       SELECT x.feed_id, x.at,
              CASE x.outcome WHEN 'error' THEN CASE x.error_class WHEN 'timeout' THEN 15000 ELSE 40 + floor(x.u2 * 400)::int END
                             ELSE 60 + floor(x.u2 * x.u2 * 1500)::int END,
              x.status, x.outcome, x.error_class,
              CASE x.error_class WHEN 'timeout' THEN 'request timed out after 15000 ms'
                                 WHEN 'http_status' THEN 'HTTP ' || x.status || CASE x.status WHEN 503 THEN ' Service Unavailable'
                                                        WHEN 500 THEN ' Internal Server Error' ELSE ' Too Many Requests' END
                                 WHEN 'network' THEN 'getaddrinfo ENOTFOUND www.outlet' || x.feed_id || '.example'
                                 WHEN 'parse' THEN 'not a feed: <html> at line 1'
                                 WHEN 'gone' THEN 'HTTP 410 Gone' END,
              CASE WHEN x.status = 200 THEN round(x.body_len * 4.8)::int ELSE 0 END,
              CASE WHEN x.status = 200 THEN 'application/rss+xml; charset=utf-8' END,
              CASE WHEN x.status = 200 THEN md5(x.feed_id || '/' || x.at) || md5(x.at || '/' || x.feed_id) END,
              CASE WHEN x.outcome = 'ok' AND $1::int > 0
                   THEN substr($2::bytea, 1 + floor(x.u2 * (octet_length($2::bytea) - x.body_len))::int, x.body_len) END,
              CASE WHEN x.status = 200 THEN 20 + x.feed_id % 31 ELSE 0 END,
              CASE WHEN x.outcome = 'ok' THEN GREATEST(1, round(x.per_day * x.iv / 86400 * (0.5 + x.u2)))::int ELSE 0 END,
              CASE WHEN x.outcome = 'ok' AND x.u2 < 0.05 THEN 1 ELSE 0 END,
              CASE WHEN x.feed_id % 25 = 4 THEN 'https://outlet' || x.feed_id || '.example/feed/' END
         FROM (SELECT * FROM (
           -- up: one fetch per interval (±5%) until the feed went down
           SELECT r.feed_id, r.per_day, r.iv, r.body_len, a.at, a.u2,
                  CASE WHEN a.u < 0.01 OR (r.feed_id % 50 = 41 AND g = a.last_g) THEN 'error'
                       WHEN a.u < 0.01 + 1 - exp(-r.per_day * r.iv / 86400) THEN 'ok' ELSE 'not_modified' END AS outcome,
                  CASE WHEN a.u < 0.01 OR (r.feed_id % 50 = 41 AND g = a.last_g)
                       THEN (ARRAY['timeout', 'http_status', 'network', 'http_status'])[1 + floor(a.u2 * 4)::int]
                       ELSE NULL END AS error_class,
                  CASE WHEN a.u < 0.01 OR (r.feed_id % 50 = 41 AND g = a.last_g)
                       THEN CASE WHEN a.u2 >= 0.25 AND a.u2 < 0.5 THEN 503 WHEN a.u2 >= 0.75 THEN 429 END
                       WHEN a.u < 0.01 + 1 - exp(-r.per_day * r.iv / 86400) OR a.u2 < 0.2 THEN 200 ELSE 304 END AS status
             FROM fr r
             CROSS JOIN LATERAL generate_series(0, floor($3::float8 / r.iv)::int - 1) AS g
             CROSS JOIN LATERAL (
               SELECT $4::timestamptz - make_interval(secs => $3::float8) + make_interval(secs => (g + 0.1 * (random() - 0.5)) * r.iv) AS at,
                      random() AS u, random() AS u2, floor($3::float8 / r.iv)::int - 1 AS last_g) a
            WHERE a.at < COALESCE(r.down_at, $4::timestamptz)
           UNION ALL
           -- down: broken feeds fail from down_at on, backing off 10 min, 20 min, … capped at 24 h; gone feeds get one 410
           SELECT r.feed_id, r.per_day, r.iv, r.body_len,
                  r.down_at + make_interval(secs => CASE WHEN e <= 9 THEN 300 * (2 ^ e - 2) ELSE 153000 + (e - 9) * 86400 END),
                  random(), 'error',
                  CASE WHEN r.kind = 'gone' THEN 'gone' ELSE (ARRAY['timeout', 'http_status', 'network', 'parse'])[1 + r.feed_id % 4] END,
                  CASE WHEN r.kind = 'gone' THEN 410 WHEN r.feed_id % 4 = 1 THEN 500 WHEN r.feed_id % 4 = 3 THEN 200 END
             FROM fr r CROSS JOIN LATERAL generate_series(1, CASE WHEN r.kind = 'gone' THEN 1 ELSE 400 END) AS e
            WHERE r.down_at IS NOT NULL
              AND r.down_at + make_interval(secs => CASE WHEN e <= 9 THEN 300 * (2 ^ e - 2) ELSE 153000 + (e - 9) * 86400 END)
                  < $4::timestamptz
         ) u ORDER BY at OFFSET 0) x  -- sorted before the bodies are made: the sort stays narrow`,
        [o.bodyBytes, blob, span, now],
      ],
    );

    await stepOn(
      c2,
      "feeds' state from their fetches",
      [`ANALYZE fetches`],
      [`UPDATE feeds f SET
           state = CASE WHEN r.kind = 'gone' THEN 'gone' ELSE 'active' END,
           last_checked_at = a.last_at, last_success_at = a.last_ok, error_count = e.errs,
           error_class = CASE WHEN e.errs > 0 THEN e.cls END, last_error = CASE WHEN e.errs > 0 THEN e.msg END,
           next_check_at = a.last_at + make_interval(secs => CASE WHEN e.errs > 0 THEN LEAST(300 * 2 ^ LEAST(e.errs, 20), 86400) ELSE r.iv END),
           items_per_day = r.per_day, etag = '"' || left(md5('etag' || f.id || a.last_ok), 20) || '"',
           last_modified = to_char(a.last_ok AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS "GMT"'),
           body_hash = md5('body' || f.id) || md5(f.id || 'body'),
           last_forced_at = a.last_ok - make_interval(secs => r.iv * (f.id % 7))
         FROM fr r
         CROSS JOIN LATERAL (SELECT max(started_at) AS last_at, max(started_at) FILTER (WHERE outcome <> 'error') AS last_ok
                               FROM fetches WHERE feed_id = r.feed_id) a
         CROSS JOIN LATERAL (SELECT count(*)::int AS errs, (array_agg(error_class ORDER BY started_at DESC))[1] AS cls,
                                    (array_agg(error ORDER BY started_at DESC))[1] AS msg
                               FROM fetches WHERE feed_id = r.feed_id AND outcome = 'error'
                                AND started_at > COALESCE(a.last_ok, '-infinity')) e
        WHERE f.id = r.feed_id`],
    );
  };
  await Promise.all([fetches(), stories()]);
  await step(
    "sequences, staging dropped",
    ...["feeds", "items", "stories", "fetches"].map(
      (t): [string] => [`SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM ${t}), false)`],
    ),
    [`DROP SCHEMA bench_seed CASCADE`],
  );
}

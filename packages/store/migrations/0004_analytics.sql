-- The analytics schema: stable views for analysts (docs/analysts.md), a read-only
-- role that can read them and nothing else, and the indexes their queries need.
-- The base tables may change between versions; these views keep their columns.

-- Roles are cluster-wide: create it once, whichever database migrates first (two
-- databases migrating at the same moment may both try: the loser's error is ignored).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'newsfeed_analyst') THEN
    CREATE ROLE newsfeed_analyst NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;
--> statement-breakpoint
CREATE SCHEMA IF NOT EXISTS analytics;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS items_feed_first_seen_idx ON items (feed_id, first_seen_at);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS stories_first_seen_live_idx ON stories (first_seen_at) WHERE merged_into_id IS NULL AND copies > 0;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS stories_day_idx ON stories (((first_seen_at AT TIME ZONE 'UTC')::date)) WHERE merged_into_id IS NULL AND copies > 0;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS story_merges_merged_at_idx ON story_merges (merged_at);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS fetches_started_idx ON fetches (started_at);
--> statement-breakpoint
-- One row per live story (not merged away, with copies): its canonical copy's title and URL.
CREATE VIEW analytics.stories AS
SELECT s.id AS story_id,
       s.title,
       s.url,
       c.published_at AS first_published_at,
       s.first_seen_at,
       s.last_seen_at,
       s.copies,
       s.outlets,
       s.canonical_item_id
  FROM stories s
  LEFT JOIN items c ON c.id = s.canonical_item_id
 WHERE s.merged_into_id IS NULL AND s.copies > 0;
--> statement-breakpoint
-- One row per copy: the outlet (feed) that carried it, when, and how long after the story's
-- first copy (the canonical member, the earliest published).
CREATE VIEW analytics.story_items AS
SELECT si.story_id,
       si.item_id,
       i.feed_id,
       COALESCE(f.title, f.url) AS outlet,
       i.title,
       i.url,
       i.published_at,
       i.first_seen_at,
       COALESCE(i.published_at, i.first_seen_at) AS copy_at,
       GREATEST(0, EXTRACT(EPOCH FROM COALESCE(i.published_at, i.first_seen_at) - COALESCE(c.published_at, c.first_seen_at)))::double precision AS delay_seconds,
       (i.id = s.canonical_item_id) AS is_canonical,
       si.similarity,
       si.distance
  FROM story_items si
  JOIN items i ON i.id = si.item_id
  JOIN stories s ON s.id = si.story_id
  JOIN feeds f ON f.id = i.feed_id
  LEFT JOIN items c ON c.id = s.canonical_item_id;
--> statement-breakpoint
-- One row per merge: the story merged away, the one it joined, the copy that matched both.
CREATE VIEW analytics.story_merges AS
SELECT m.from_story_id,
       fs.title AS from_title,
       m.into_story_id,
       ts.title AS into_title,
       m.item_id,
       m.merged_at
  FROM story_merges m
  JOIN stories fs ON fs.id = m.from_story_id
  JOIN stories ts ON ts.id = m.into_story_id;
--> statement-breakpoint
-- One row per feed: its polling state and how much it carried lately.
CREATE VIEW analytics.feed_health AS
SELECT f.id AS feed_id,
       f.url,
       f.title,
       f.state,
       f.last_checked_at,
       f.last_success_at,
       f.error_count AS consecutive_errors,
       f.error_class,
       f.last_error,
       f.next_check_at,
       f.items_per_day AS items_per_day_estimate,
       (SELECT count(*) FROM items i WHERE i.feed_id = f.id AND i.first_seen_at >= now() - interval '7 days') / 7.0 AS items_per_day
  FROM feeds f;
--> statement-breakpoint
-- One row per UTC day with stories: stories first seen that day, their copies, the most outlets of one.
CREATE VIEW analytics.daily_stories AS
SELECT (s.first_seen_at AT TIME ZONE 'UTC')::date AS day,
       count(*) AS stories,
       sum(s.copies) AS copies,
       max(s.outlets) AS max_outlets
  FROM stories s
 WHERE s.merged_into_id IS NULL AND s.copies > 0
 GROUP BY 1;
--> statement-breakpoint
REVOKE ALL ON SCHEMA analytics FROM PUBLIC;
--> statement-breakpoint
GRANT USAGE ON SCHEMA analytics TO newsfeed_analyst;
--> statement-breakpoint
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO newsfeed_analyst;
--> statement-breakpoint
-- Nothing else: no CREATE in public (PostgreSQL 15's default, made explicit), and no
-- temporary tables in this database for roles that are not granted them.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
--> statement-breakpoint
DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;

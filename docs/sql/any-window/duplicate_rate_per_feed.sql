-- What share of each feed's items in the last 7 days were copies of a story other outlets carried too?
-- From the views, any window (change the interval): seconds at a million items (docs/scaling.md);
-- ../duplicate_rate_per_feed.sql reads the same figures from a rollup.
SELECT si.feed_id, si.outlet,
       count(*) AS items,
       count(*) FILTER (WHERE s.outlets > 1) AS shared,
       round(count(*) FILTER (WHERE s.outlets > 1)::numeric / count(*), 3) AS duplicate_rate
  FROM analytics.story_items si
  JOIN analytics.stories s USING (story_id)
 WHERE si.first_seen_at >= now() - interval '7 days'
 GROUP BY si.feed_id, si.outlet
 ORDER BY duplicate_rate DESC, si.feed_id;

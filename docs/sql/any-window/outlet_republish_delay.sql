-- How fast does each outlet republish wire copy? Median and 90th percentile delay
-- after the story's first copy, over copies first seen in the last 7 days (the first copy itself left out).
-- From the views, any window (change the interval): seconds at a million items (docs/scaling.md);
-- ../outlet_republish_delay.sql reads the same figures from a rollup.
SELECT feed_id, outlet,
       count(*) AS copies,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY delay_seconds) / 60)::numeric, 1) AS median_delay_min,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY delay_seconds) / 60)::numeric, 1) AS p90_delay_min
  FROM analytics.story_items
 WHERE first_seen_at >= now() - interval '7 days' AND NOT is_canonical
 GROUP BY feed_id, outlet
 ORDER BY median_delay_min, feed_id;

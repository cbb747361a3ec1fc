-- Items (copies) first seen per hour over the last 48 hours, and how many stories they fed.
SELECT date_trunc('hour', first_seen_at) AS hour,
       count(*) AS items,
       count(DISTINCT story_id) AS stories
  FROM analytics.story_items
 WHERE first_seen_at >= now() - interval '48 hours'
 GROUP BY 1
 ORDER BY 1;

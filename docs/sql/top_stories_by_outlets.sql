-- Which stories did the most outlets carry in the last 24 hours?
-- Window: stories first seen in the last 24 h (change the interval for another window).
SELECT story_id, title, url, outlets, copies, first_seen_at
  FROM analytics.stories
 WHERE first_seen_at >= now() - interval '24 hours'
 ORDER BY outlets DESC, copies DESC, first_seen_at, story_id
 LIMIT 20;

-- A story's timeline: every copy, by outlet, in the order they appeared.
-- Here: the story with the most outlets in the last 24 hours; put a story_id in the CTE for another.
WITH story AS (
  SELECT story_id FROM analytics.stories
   WHERE first_seen_at >= now() - interval '24 hours'
   ORDER BY outlets DESC, copies DESC, story_id
   LIMIT 1
)
SELECT si.story_id, si.outlet, si.title, si.url, si.copy_at,
       round((si.delay_seconds / 60)::numeric, 1) AS delay_min, si.is_canonical, si.similarity
  FROM analytics.story_items si
  JOIN story USING (story_id)
 ORDER BY si.copy_at, si.item_id;

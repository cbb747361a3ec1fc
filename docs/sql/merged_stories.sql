-- Which stories merged in the last 7 days, and into what? (A copy arrived that matched both.)
SELECT m.from_story_id, m.from_title, m.into_story_id, m.into_title, m.merged_at, s.outlets AS outlets_now
  FROM analytics.story_merges m
  LEFT JOIN analytics.stories s ON s.story_id = m.into_story_id
 WHERE m.merged_at >= now() - interval '7 days'
 ORDER BY m.merged_at DESC, m.from_story_id;

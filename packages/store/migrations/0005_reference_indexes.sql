CREATE INDEX "stories_canonical_item_idx" ON "stories" USING btree ("canonical_item_id");--> statement-breakpoint
CREATE INDEX "stories_merged_into_idx" ON "stories" USING btree ("merged_into_id");--> statement-breakpoint
CREATE INDEX "story_merges_into_idx" ON "story_merges" USING btree ("into_story_id");--> statement-breakpoint
CREATE INDEX "story_merges_item_idx" ON "story_merges" USING btree ("item_id");
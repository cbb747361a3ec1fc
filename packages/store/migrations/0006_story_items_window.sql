-- Windowed queries over copies ("items per hour", "each outlet's delay over 7 days") read
-- story_items alone: each row carries its item's feed and first-seen time (neither ever
-- changes), filled by a trigger on insert, and an index on the time holds what they group by.
ALTER TABLE "story_items" ADD COLUMN "feed_id" bigint;
--> statement-breakpoint
ALTER TABLE "story_items" ADD COLUMN "first_seen_at" timestamp with time zone;
--> statement-breakpoint
UPDATE "story_items" si SET "feed_id" = i.feed_id, "first_seen_at" = i.first_seen_at FROM "items" i WHERE i.id = si.item_id;
--> statement-breakpoint
ALTER TABLE "story_items" ALTER COLUMN "feed_id" SET NOT NULL, ALTER COLUMN "first_seen_at" SET NOT NULL;
--> statement-breakpoint
CREATE FUNCTION story_items_fill_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT i.feed_id, i.first_seen_at INTO NEW.feed_id, NEW.first_seen_at FROM items i WHERE i.id = NEW.item_id;
  RETURN NEW;
END
$$;
--> statement-breakpoint
-- Writers need not know: a row inserted without them gets them (one primary-key lookup).
CREATE TRIGGER story_items_fill_item BEFORE INSERT ON "story_items"
  FOR EACH ROW WHEN (NEW.feed_id IS NULL OR NEW.first_seen_at IS NULL) EXECUTE FUNCTION story_items_fill_item();
--> statement-breakpoint
CREATE INDEX "story_items_first_seen_idx" ON "story_items" USING btree ("first_seen_at") INCLUDE ("story_id", "feed_id", "item_id");

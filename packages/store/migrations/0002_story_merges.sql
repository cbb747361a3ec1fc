CREATE TABLE "story_merges" (
	"from_story_id" bigint PRIMARY KEY NOT NULL,
	"into_story_id" bigint NOT NULL,
	"item_id" bigint,
	"merged_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "stories" ADD COLUMN "merged_into_id" bigint;--> statement-breakpoint
ALTER TABLE "story_merges" ADD CONSTRAINT "story_merges_from_story_id_stories_id_fk" FOREIGN KEY ("from_story_id") REFERENCES "public"."stories"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "story_merges" ADD CONSTRAINT "story_merges_into_story_id_stories_id_fk" FOREIGN KEY ("into_story_id") REFERENCES "public"."stories"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "story_merges" ADD CONSTRAINT "story_merges_item_id_items_id_fk" FOREIGN KEY ("item_id") REFERENCES "public"."items"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stories" ADD CONSTRAINT "stories_merged_into_fk" FOREIGN KEY ("merged_into_id") REFERENCES "public"."stories"("id") ON DELETE no action ON UPDATE no action;
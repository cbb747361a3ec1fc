ALTER TABLE "feeds" ADD COLUMN "items_per_day" real;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "last_forced_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "full_text" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "fetches" ADD COLUMN "items_new" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "fetches" ADD COLUMN "items_updated" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "fetches" ADD COLUMN "final_url" text;
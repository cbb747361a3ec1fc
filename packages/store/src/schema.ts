/**
 * The Postgres schema of record. One line per table states its invariant.
 * All timestamps are timestamptz (UTC). Migrations are generated from this
 * file with `pnpm db:generate` and committed under ./migrations.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  customType,
  foreignKey,
  index,
  integer,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => "bytea",
});

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** feeds: one row per polled URL (unique); the scheduler claims rows whose next_check_at is due. */
export const feeds = pgTable(
  "feeds",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    url: text("url").notNull(),
    title: text("title"),
    siteUrl: text("site_url"),
    /** active | paused | gone (410: polling stopped) */
    state: text("state").notNull().default("active"),
    etag: text("etag"),
    lastModified: text("last_modified"),
    /** sha256 of the last body that was parsed: an equal body is "not modified". */
    bodyHash: text("body_hash"),
    nextCheckAt: tstz("next_check_at").notNull().defaultNow(),
    lastCheckedAt: tstz("last_checked_at"),
    lastSuccessAt: tstz("last_success_at"),
    errorCount: integer("error_count").notNull().default(0),
    errorClass: text("error_class"),
    lastError: text("last_error"),
    /** Estimated new items per day (a moving average over recent fetches); null until known. */
    itemsPerDay: real("items_per_day"),
    /** Last fetch sent without validators (one is forced every FETCH_FORCE_INTERVAL_H). */
    lastForcedAt: tstz("last_forced_at"),
    /** Fetch each new item's page and extract its full text (for feeds that carry summaries). */
    fullText: boolean("full_text").notNull().default(false),
    createdAt: tstz("created_at").notNull().defaultNow(),
    updatedAt: tstz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("feeds_url_key").on(t.url),
    index("feeds_due_idx").on(t.nextCheckAt).where(sql`${t.state} = 'active'`),
  ],
);

/** fetches: one row per HTTP fetch of a feed; body kept (gzip) only when it changed. */
export const fetches = pgTable(
  "fetches",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    feedId: bigint("feed_id", { mode: "number" })
      .notNull()
      .references(() => feeds.id, { onDelete: "cascade" }),
    startedAt: tstz("started_at").notNull(),
    durationMs: integer("duration_ms").notNull(),
    /** HTTP status, or null when no response arrived. */
    status: integer("status"),
    /** ok | not_modified | error */
    outcome: text("outcome").notNull(),
    errorClass: text("error_class"),
    error: text("error"),
    /** Bytes of the (decompressed) body received. */
    bytes: integer("bytes").notNull().default(0),
    contentType: text("content_type"),
    bodyHash: text("body_hash"),
    /** gzip of the raw body, stored when the body changed since the last fetch. */
    bodyGzip: bytea("body_gzip"),
    itemsFound: integer("items_found").notNull().default(0),
    /** Items not stored before (by identity), and stored ones whose content changed. */
    itemsNew: integer("items_new").notNull().default(0),
    itemsUpdated: integer("items_updated").notNull().default(0),
    /** Where the body came from, when redirects led elsewhere. */
    finalUrl: text("final_url"),
  },
  (t) => [index("fetches_feed_started_idx").on(t.feedId, t.startedAt)],
);

/** items: every outlet's copy, unique per (feed_id, identity_key); content_hash changes on edits. */
export const items = pgTable(
  "items",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    feedId: bigint("feed_id", { mode: "number" })
      .notNull()
      .references(() => feeds.id, { onDelete: "cascade" }),
    identityKey: text("identity_key").notNull(),
    guid: text("guid"),
    url: text("url"),
    canonicalUrl: text("canonical_url"),
    title: text("title").notNull(),
    /** Cleaned body text, as fingerprinted. */
    text: text("text").notNull(),
    publishedAt: tstz("published_at"),
    firstSeenAt: tstz("first_seen_at").notNull(),
    lastSeenAt: tstz("last_seen_at").notNull(),
    contentHash: text("content_hash").notNull(),
    /** 64-bit simhash of the cleaned text, as a signed bigint. */
    simhash: bigint("simhash", { mode: "bigint" }).notNull(),
  },
  (t) => [
    uniqueIndex("items_feed_identity_key").on(t.feedId, t.identityKey),
    index("items_published_idx").on(t.publishedAt),
    index("items_first_seen_idx").on(t.firstSeenAt),
  ],
);

/** stories: one per cluster; `key` is the dedupe index's id; aggregates follow story_items. */
export const stories = pgTable(
  "stories",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    key: text("key").notNull(),
    canonicalItemId: bigint("canonical_item_id", { mode: "number" }).references(() => items.id, {
      onDelete: "set null",
    }),
    title: text("title").notNull(),
    url: text("url"),
    firstSeenAt: tstz("first_seen_at").notNull(),
    lastSeenAt: tstz("last_seen_at").notNull(),
    /** Number of items (copies) in the story. */
    copies: integer("copies").notNull().default(0),
    /** Number of distinct feeds (outlets) among the copies. */
    outlets: integer("outlets").notNull().default(0),
    /** Set when this story was merged into another: its copies moved there (see story_merges). */
    mergedIntoId: bigint("merged_into_id", { mode: "number" }),
    createdAt: tstz("created_at").notNull().defaultNow(),
    updatedAt: tstz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("stories_key_key").on(t.key),
    index("stories_last_seen_idx").on(t.lastSeenAt),
    // Deleting an item or a story checks these references: without indexes, a scan of stories each.
    index("stories_canonical_item_idx").on(t.canonicalItemId),
    index("stories_merged_into_idx").on(t.mergedIntoId),
    foreignKey({ columns: [t.mergedIntoId], foreignColumns: [t.id], name: "stories_merged_into_fk" }),
  ],
);

/** story_merges: one row per story merged into another, because a new copy matched both. */
export const storyMerges = pgTable("story_merges", {
  fromStoryId: bigint("from_story_id", { mode: "number" })
    .primaryKey()
    .references(() => stories.id, { onDelete: "cascade" }),
  intoStoryId: bigint("into_story_id", { mode: "number" })
    .notNull()
    .references(() => stories.id, { onDelete: "cascade" }),
  /** The item whose arrival matched both stories. */
  itemId: bigint("item_id", { mode: "number" }).references(() => items.id, { onDelete: "set null" }),
  mergedAt: tstz("merged_at").notNull().defaultNow(),
}, (t) => [index("story_merges_into_idx").on(t.intoStoryId), index("story_merges_item_idx").on(t.itemId)]);

/** story_items: each item belongs to exactly one story. */
export const storyItems = pgTable(
  "story_items",
  {
    storyId: bigint("story_id", { mode: "number" })
      .notNull()
      .references(() => stories.id, { onDelete: "cascade" }),
    itemId: bigint("item_id", { mode: "number" })
      .notNull()
      .references(() => items.id, { onDelete: "cascade" }),
    /** Simhash Hamming distance (bits of 64) to the copy it matched; 0 for the story's first item. */
    distance: integer("distance").notNull().default(0),
    /** Estimated share (0–1) of the smaller text contained in the copy it matched; 1 for the first item. */
    similarity: real("similarity").notNull().default(1),
    addedAt: tstz("added_at").notNull().defaultNow(),
    /**
     * The item's feed and first-seen time, copied from items by a trigger on insert (both never
     * change), so that windowed queries over copies read this table's index alone.
     */
    feedId: bigint("feed_id", { mode: "number" }).notNull(),
    firstSeenAt: tstz("first_seen_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.storyId, t.itemId] }),
    uniqueIndex("story_items_item_key").on(t.itemId),
    index("story_items_first_seen_idx").on(t.firstSeenAt),
  ],
);

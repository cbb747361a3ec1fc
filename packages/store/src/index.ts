export { createDb, type Db, type DbHandle, type CreateDbOptions } from "./client.ts";
export { StoreError } from "./errors.ts";
export {
  runMigrations, ensureDatabase, schemaStatus, assertSchemaCurrent, redactUrl, MIGRATIONS_FOLDER,
  type MigrateResult, type SchemaStatus,
} from "./migrate.ts";
export * as schema from "./schema.ts";
export {
  addFeed, listFeeds, getFeed, findFeed, FeedLoader, pauseFeed, resumeFeed, resetFeedErrors, recentFetches, countFeeds, claimDueFeeds, makeAllFeedsDue,
  type Feed, type FetchRow, type AddFeedResult, type ClaimedFeed,
} from "./queries/feeds.ts";
export { recordFetch, recordFetches, FetchRecorder, deferFeed, storedContentHashes, pruneFetches, type FetchRecord, type FetchOutcome, type FeedUpdate } from "./queries/fetches.ts";
export {
  saveAssignments, listStories, tableCounts, itemsForIndex, type AssignedItem, type SaveResult, type StoryRow, type StoryMerge,
  type IndexedItem,
} from "./queries/stories.ts";
export { prune, type PruneOptions, type PruneResult, type PruneProgress } from "./queries/prune.ts";
export { archivedFeeds, archivedFetchPage, storedItemVersions, type ArchiveRange, type ArchivedFeed, type ArchivedFetch, type StoredVersion } from "./queries/replay.ts";
export { refreshRollups, ROLLUPS, REFRESH_LOCK, type RefreshResult } from "./queries/analytics.ts";
export { removeFeed, type RemoveFeedResult, type RemoveFeedOptions } from "./queries/feeds.ts";
export { storeStatus, type StoreStatus, type StoreStatusOptions, type FeedStateCounts, type RecentFetchError } from "./queries/status.ts";
export {
  countWindowItems, windowItems, countContextItems, contextItems, storiesByKey, storiesWithItemsOutside, applyItemChanges,
  type ItemWindow, type StoredItem, type StoryRef, type ItemChange, type ApplyResult,
} from "./queries/recluster.ts";

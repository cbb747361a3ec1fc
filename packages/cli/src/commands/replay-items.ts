import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { assertSchemaCurrent, createDb } from "@newsfeed/store";
import { replayItems, type ReplayItemsResult, type ReplayProgress } from "@newsfeed/dedupe";
import { UsageError, type Command } from "../cli.ts";
import { loadConfig } from "../config.ts";
import { Progress, summaryLine, type ReplaySummary } from "../progress.ts";
import { createIndex, dedupeSettings } from "../runtime.ts";
import { timeArg } from "./shared.ts";

const LABELS: Record<ReplayProgress["phase"], string> = {
  replay: "replaying items",
  context: "recluster 1/3: loading the items around the window",
  cluster: "recluster 2/3: clustering the window in a scratch index",
  write: "recluster 3/3: writing the new stories",
};

/** `replay items`: stored items through dedupe again; with --recluster, their stories recomputed. */
export const replayItemsCommand: Command = {
  name: "items",
  summary: "Run stored items through dedupe again (after a dedupe change); --recluster recomputes their stories",
  options: {
    since: { type: "string" },
    until: { type: "string" },
    recluster: { type: "boolean" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
  },
  optionHelp: {
    since: "required: items published (undated: first seen) at or after this: a duration ago (7d, 72h) or an ISO time",
    until: "and before this (default: no end)",
    recluster:
      "recompute the window's stories from scratch with today's settings; items outside the window keep theirs " +
      "(window items may join them). Reports, over the stories of the window's items: stayed = same members after; " +
      "split = members now in 2+ stories; merged = a story after made of members of 2+ stories before",
    "dry-run": "compute and report what would change; change nothing (a recluster works in a scratch Redis index, deleted after)",
    json:
      "print one JSON object: read, new (always 0: items are stored), updated (moved to another story, or stored " +
      "text/simhash changed), unchanged, failed, moved, rewritten, indexUpdated, stories (with --recluster)",
  },
  examples: [
    "pnpm newsfeed replay items --since 7d --dry-run     # what a replay would change",
    "pnpm newsfeed replay items --since 7d               # text and fingerprints redone; items keep their stories",
    "DEDUPE_MIN_CONTAINMENT=0.4 pnpm newsfeed replay items --since 72h --recluster --dry-run",
    "pnpm newsfeed replay items --since 2026-03-01T00:00:00Z --until 2026-03-08T00:00:00Z --recluster --json",
  ],
  async run({ values }) {
    const sinceText = values.since as string | undefined;
    if (sinceText === undefined) throw new UsageError("--since is required: a duration ago (7d, 72h) or an ISO time");
    const since = timeArg("since", sinceText);
    const untilText = values.until as string | undefined;
    const until = untilText === undefined ? undefined : timeArg("until", untilText);
    if (until && until <= since) throw new UsageError(`--until ${untilText} is not after --since ${sinceText}`);
    const recluster = values.recluster === true;
    const dryRun = values["dry-run"] === true;

    const config = loadConfig();
    const db = createDb(config.DATABASE_URL, { max: 2, applicationName: "newsfeed-replay-items" });
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
    const scratch = recluster
      ? createIndex(config, redis, `${config.NEWSFEED_REDIS_PREFIX}:replay-${randomBytes(6).toString("hex")}:idx:`)
      : undefined;
    const t0 = Date.now();
    let bar: Progress | undefined;
    let phase: ReplayProgress["phase"] | undefined;
    let res: ReplayItemsResult;
    try {
      await assertSchemaCurrent(db.pool);
      res = await replayItems(
        { db: db.db, index: createIndex(config, redis), settings: dedupeSettings(config), scratch },
        {
          since, until, recluster, dryRun, windowMs: config.DEDUPE_WINDOW_HOURS * 3_600_000,
          onProgress: (p) => {
            if (p.phase !== phase) {
              bar?.finish();
              phase = p.phase;
              bar = new Progress({ label: LABELS[p.phase], total: p.total });
            }
            bar!.update(p.done, p.phase === "context" ? "" : `${p.updated} ${dryRun ? "to update" : "updated"}, ${p.failed} failed`);
          },
        },
      );
      bar?.finish();
    } finally {
      if (scratch) await scratch.clear().catch(() => {});
      await redis.quit().catch(() => redis.disconnect());
      await db.close();
    }
    const seconds = (Date.now() - t0) / 1000;
    const summary: ReplaySummary = {
      read: res.read, new: res.new, updated: res.updated, unchanged: res.unchanged, failed: res.failed, dryRun,
    };
    if (values.json) {
      console.log(JSON.stringify({
        since: since.toISOString(), until: until?.toISOString() ?? null, recluster, ...summary,
        moved: res.moved, rewritten: res.rewritten, indexUpdated: res.indexUpdated,
        ...(res.stories ? { stories: res.stories } : {}), errors: res.errors, seconds,
      }));
    } else {
      const span = `items from ${since.toISOString()}${until ? ` to ${until.toISOString()}` : ""}`;
      console.log(summaryLine(`replay ${recluster ? "--recluster " : ""}${span}`, summary));
      const would = dryRun ? "would be " : "";
      console.log(`  updated: ${res.moved} ${would}moved to another story, ${res.rewritten} ${would}with new text or fingerprint` +
        (dryRun ? "" : `; ${res.indexUpdated} index entries rewritten`));
      const s = res.stories;
      if (s) {
        console.log(
          `  stories: ${s.before} before, ${s.after} after: ${s.stayed} stayed, ${s.split} split, ${s.merged} merged; ` +
            `${s.created} ${dryRun ? "to create" : "created"}, ${s.emptied} ${dryRun ? "to empty" : "emptied"}`,
        );
      }
      console.log(`  ${seconds.toFixed(1)} s`);
      for (const e of res.errors) console.error(`newsfeed: replay items: ${e}`);
    }
    return res.failed > 0 ? 1 : 0;
  },
};

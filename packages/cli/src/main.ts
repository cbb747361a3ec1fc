#!/usr/bin/env node
/** The `newsfeed` operator CLI. Exit codes: 0 done, 1 failed, 2 usage error. */
import { dispatch, UsageError, type Command } from "./cli.ts";
import { ConfigError } from "./config.ts";
import { analyticsCommand } from "./commands/analytics.ts";
import { configCommand } from "./commands/config.ts";
import { dedupeCommand } from "./commands/dedupe.ts";
import { feedsCommand } from "./commands/feeds.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { pruneCommand } from "./commands/prune.ts";
import { queuesCommand } from "./commands/queues.ts";
import { replayCommand } from "./commands/replay.ts";
import { runCommand, startCommand } from "./commands/run.ts";
import { statusCommand } from "./commands/status.ts";
import { storiesCommand } from "./commands/stories.ts";

const root: Command = {
  name: "newsfeed",
  summary: "newsfeed: poll news feeds, cluster cross-outlet reprints into stories, keep them in Postgres",
  subcommands: [startCommand, migrateCommand, feedsCommand, runCommand, storiesCommand, dedupeCommand, statusCommand, queuesCommand, replayCommand, pruneCommand, analyticsCommand, configCommand],
  examples: ["pnpm newsfeed migrate", "pnpm newsfeed feeds add https://example.com/rss.xml", "pnpm newsfeed run all", "pnpm newsfeed stories --since 24h"],
};

try {
  const code = await dispatch(root, process.argv.slice(2), (s) => console.log(s));
  // A command that finished but failed (e.g. `feeds poll` of a broken feed) has set exitCode 1 itself.
  if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
} catch (err) {
  if (err instanceof UsageError || err instanceof ConfigError) {
    console.error(`newsfeed: ${err.message}`);
    process.exitCode = 2;
  } else {
    const e = err as Error & { code?: string; port?: number };
    const hint =
      e.code === "ECONNREFUSED"
        ? ` (is ${e.port === 6379 ? "Redis" : e.port === 5432 ? "Postgres" : "the service"} running? see DATABASE_URL and REDIS_URL)`
        : "";
    console.error(`newsfeed: ${e.message}${hint}${e.code && !e.message.includes(e.code) && !hint ? ` [${e.code}]` : ""}`);
    if (process.env.NEWSFEED_DEBUG) console.error(e.stack);
    process.exitCode = 1;
  }
}

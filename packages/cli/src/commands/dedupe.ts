import { Redis } from "ioredis";
import { assertSchemaCurrent, createDb } from "@newsfeed/store";
import { rebuildIndex } from "@newsfeed/dedupe";
import { UsageError, type Command } from "../cli.ts";
import { loadConfig } from "../config.ts";
import { parseSince } from "../format.ts";
import { createIndex, dedupeSettings } from "../runtime.ts";

const rebuild: Command = {
  name: "rebuild-index",
  summary: "Rebuild the Redis dedupe index from Postgres (after losing Redis); safe to run twice",
  options: { since: { type: "string" }, json: { type: "boolean" } },
  optionHelp: {
    since: "items published since: a duration ago (72h, 7d) or an ISO time (default: twice DEDUPE_WINDOW_HOURS)",
    json: "print the summary as JSON",
  },
  examples: ["pnpm newsfeed dedupe rebuild-index", "pnpm newsfeed dedupe rebuild-index --since 7d"],
  async run({ values }) {
    const config = loadConfig();
    const sinceText = values.since as string | undefined;
    const since = sinceText
      ? parseSince(sinceText)
      : new Date(Date.now() - 2 * config.DEDUPE_WINDOW_HOURS * 3_600_000);
    if (!since) throw new UsageError(`--since must be a duration (72h, 7d) or an ISO time, got '${sinceText}'`);
    const db = createDb(config.DATABASE_URL, { max: 2, applicationName: "newsfeed-rebuild-index" });
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
    const tty = process.stderr.isTTY === true;
    let last = 0;
    try {
      await assertSchemaCurrent(db.pool);
      const t0 = Date.now();
      const res = await rebuildIndex(
        { db: db.db, index: createIndex(config, redis), settings: dedupeSettings(config) },
        {
          since,
          onProgress: (p) => {
            if (tty) process.stderr.write(`\rrebuilding the index: ${p.read} items read, ${p.added} fingerprints added`);
            else if (Date.now() - last > 5000) {
              last = Date.now();
              process.stderr.write(`rebuilding the index: ${p.read} items read, ${p.added} fingerprints added\n`);
            }
          },
        },
      );
      if (tty) process.stderr.write("\n");
      const seconds = (Date.now() - t0) / 1000;
      if (values.json) console.log(JSON.stringify({ since: since.toISOString(), ...res, seconds }));
      else {
        console.log(
          `rebuilt the dedupe index from items since ${since.toISOString()}: ${res.read} items read, ` +
            `${res.added} fingerprints added (${res.read - res.added} were already there), ${seconds.toFixed(1)} s`,
        );
      }
    } finally {
      await redis.quit().catch(() => redis.disconnect());
      await db.close();
    }
  },
};

export const dedupeCommand: Command = {
  name: "dedupe",
  summary: "Maintain the dedupe index (its size: `newsfeed status`)",
  examples: ["pnpm newsfeed dedupe rebuild-index", "pnpm --silent newsfeed dedupe rebuild-index --since 7d --json"],
  subcommands: [rebuild],
};

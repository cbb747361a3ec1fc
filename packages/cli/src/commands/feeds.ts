import { readFile } from "node:fs/promises";
import { pollFeed } from "@newsfeed/ingest";
import {
  addFeed, assertSchemaCurrent, findFeed, listFeeds, pauseFeed, recentFetches, removeFeed, resetFeedErrors, resumeFeed, type Feed, type RemoveFeedResult,
} from "@newsfeed/store";
import { UsageError, type Command } from "../cli.ts";
import { safe, safeJson, table, truncate } from "../format.ts";
import { decodeOpml, parseOpml, renderOpml } from "../opml.ts";
import { loadConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createRuntime } from "../runtime.ts";
import { feedUrlArg, withDb } from "./shared.ts";

const add: Command = {
  name: "add",
  args: "<url>",
  arity: [1, 1],
  summary: "Add a feed to poll (an existing URL is left as it is)",
  options: { title: { type: "string" }, "full-text": { type: "boolean" }, json: { type: "boolean" } },
  optionHelp: {
    title: "a title to show until the feed supplies its own",
    "full-text": "fetch each new item's page and extract its text (for feeds that carry summaries only)",
    json: "the result as one JSON object: {id, url, created}",
  },
  examples: [
    "pnpm newsfeed feeds add https://example.com/rss.xml",
    "pnpm newsfeed feeds add --full-text https://example.com/summaries.xml",
    "pnpm --silent newsfeed feeds add https://example.com/rss.xml --json | jq .id",
  ],
  async run({ positionals, values }) {
    const url = feedUrlArg(positionals[0]!);
    await withDb(async ({ db }) => {
      const { feed, created } = await addFeed(db, {
        url, title: (values.title as string | undefined) ?? null, fullText: values["full-text"] === true,
      });
      if (values.json) console.log(JSON.stringify({ id: feed.id, url: feed.url, created }));
      else console.log(created ? `added feed ${feed.id}: ${safe(url)}` : `feed ${feed.id} already exists: ${safe(url)}`);
    });
  },
};

const importCmd: Command = {
  name: "import",
  args: "<file.opml>",
  arity: [1, 1],
  summary: "Add every feed of an OPML file (nested folders included; feeds already present are left as they are)",
  options: { json: { type: "boolean" } },
  optionHelp: { json: "the result as one JSON object: counts, and the URLs skipped" },
  examples: [
    "pnpm newsfeed feeds import subscriptions.opml",
    "pnpm --silent newsfeed feeds import subscriptions.opml --json | jq .added",
  ],
  async run({ positionals, values }) {
    const file = positionals[0]!;
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let entries;
    try {
      entries = parseOpml(decodeOpml(bytes));
    } catch (err) {
      throw new UsageError(`${file}: ${(err as Error).message}`);
    }
    await withDb(async ({ db }) => {
      let added = 0;
      let existing = 0;
      let duplicates = 0;
      const skipped: string[] = [];
      const seen = new Set<string>();
      for (const e of entries) {
        let url: string;
        try {
          url = feedUrlArg(e.url);
        } catch {
          skipped.push(e.url);
          continue;
        }
        // The same feed written two ways (e.g. "HTTPS://Example.com/rss" and "https://example.com/rss").
        if (seen.has(url)) {
          duplicates++;
          continue;
        }
        seen.add(url);
        const { created } = await addFeed(db, { url, title: e.title });
        if (created) added++;
        else existing++;
      }
      if (values.json) {
        console.log(JSON.stringify({ file, feeds: entries.length, added, existing, duplicates, skipped }));
        return;
      }
      for (const s of skipped) console.error(`skipped (not an http(s) URL): ${safe(s)}`);
      console.log(
        `${entries.length} feeds in ${file}: ${added} added, ${existing} already present, ${skipped.length} skipped` +
          (duplicates ? `, ${duplicates} duplicates` : ""),
      );
    });
  },
};

const exportCmd: Command = {
  name: "export",
  summary: "Print every feed as OPML 2.0 (for a script: `feeds list --json`)",
  examples: ["pnpm --silent newsfeed feeds export > subscriptions.opml"],
  async run() {
    await withDb(async ({ db }) => {
      const feeds = await listFeeds(db);
      process.stdout.write(renderOpml(feeds.map((f) => ({ url: f.url, title: f.title }))));
    });
  },
};

const list: Command = {
  name: "list",
  summary: "List feeds with their state, errors and next check",
  options: { json: { type: "boolean" } },
  optionHelp: { json: "one JSON array instead of a table" },
  examples: ["pnpm newsfeed feeds list", "pnpm --silent newsfeed feeds list --json | jq '.[].url'"],
  async run({ values }) {
    await withDb(async ({ db }) => {
      const feeds = await listFeeds(db);
      if (values.json) {
        console.log(safeJson(feeds, 2));
        return;
      }
      if (feeds.length === 0) {
        console.log("no feeds yet: add one with `pnpm newsfeed feeds add <url>`");
        return;
      }
      console.log(
        table(
          ["id", "state", "errors", "next check (UTC)", "title", "url"],
          feeds.map((f) => [
            f.id, f.state, f.errorCount, f.nextCheckAt.toISOString().slice(0, 19).replace("T", " "),
            truncate(f.title ?? "", 40), f.url,
          ]),
        ),
      );
    });
  },
};

const when = (d: Date | null) => (d ? d.toISOString().slice(0, 19).replace("T", " ") : "never");

async function feedArg(db: Parameters<typeof findFeed>[0], text: string): Promise<Feed> {
  const feed = await findFeed(db, text);
  if (!feed) throw new UsageError(`no feed '${text}' (give a feed id or URL; see \`pnpm newsfeed feeds list\`)`);
  return feed;
}

const show: Command = {
  name: "show",
  args: "<id|url>",
  arity: [1, 1],
  summary: "Show a feed's state and its recent fetches",
  options: { json: { type: "boolean" }, limit: { type: "string" } },
  optionHelp: { json: "one JSON object instead of text", limit: "how many recent fetches (default 10)" },
  examples: ["pnpm newsfeed feeds show 12", "pnpm --silent newsfeed feeds show https://example.com/rss.xml --json"],
  async run({ positionals, values }) {
    const limit = Number(values.limit ?? 10);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number ≥ 1, got '${values.limit}'`);
    await withDb(async ({ db }) => {
      const feed = await feedArg(db, positionals[0]!);
      const fetches = await recentFetches(db, feed.id, limit);
      if (values.json) {
        console.log(safeJson({ feed, fetches }, 2));
        return;
      }
      const lines: [string, string][] = [
        ["feed", `${feed.id}  ${feed.url}`],
        ["title", feed.title ?? ""],
        ["state", feed.state + (feed.fullText ? " (full text)" : "")],
        ["next check", `${when(feed.nextCheckAt)} UTC`],
        ["last checked", `${when(feed.lastCheckedAt)}; last success ${when(feed.lastSuccessAt)}`],
        ["items per day", feed.itemsPerDay == null ? "unknown yet" : feed.itemsPerDay.toFixed(1)],
        ["errors", feed.errorCount ? `${feed.errorCount} in a row, ${feed.errorClass}: ${feed.lastError ?? ""}` : "none"],
        ["validators", `etag ${feed.etag ?? "-"}, last-modified ${feed.lastModified ?? "-"}`],
      ];
      for (const [k, v] of lines) console.log(`${k.padEnd(14)} ${safe(v)}`);
      console.log("");
      if (fetches.length === 0) {
        console.log("no fetches yet");
        return;
      }
      console.log(
        table(
          ["started (UTC)", "outcome", "status", "ms", "bytes", "found", "new", "updated", "error"],
          fetches.map((f) => [
            when(f.startedAt), f.outcome, f.status ?? "-", f.durationMs, f.bytes, f.itemsFound, f.itemsNew, f.itemsUpdated,
            truncate(f.errorClass ? `${f.errorClass}: ${f.error ?? ""}` : "", 60),
          ]),
        ),
      );
    });
  },
};

const poll: Command = {
  name: "poll",
  args: "<id|url>",
  arity: [1, 1],
  summary: "Fetch one feed now with the worker's own code, and queue its new items",
  options: { force: { type: "boolean" }, json: { type: "boolean" } },
  optionHelp: {
    force: "no validators, re-read an unchanged body, ignore the host budget",
    json: "the result as one JSON object",
  },
  examples: ["pnpm newsfeed feeds poll 12", "pnpm newsfeed feeds poll https://example.com/rss.xml --force"],
  async run({ positionals, values }) {
    const config = loadConfig();
    const rt = createRuntime(config, createLogger(config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL));
    try {
      const feed = await feedArg(rt.db.db, positionals[0]!);
      if (feed.state !== "active") throw new UsageError(`feed ${feed.id} is ${feed.state}: it is not polled`);
      const res = await pollFeed(rt.pollDeps, feed.id, { force: values.force === true });
      if (values.json) console.log(JSON.stringify(res));
      else if (res.outcome === "ok") {
        console.log(`feed ${feed.id}: HTTP ${res.status}, ${res.items} items, ${res.newItems ?? 0} new, ${res.updatedItems ?? 0} updated (queued for dedupe)`);
      } else if (res.outcome === "not_modified") console.log(`feed ${feed.id}: not modified (HTTP ${res.status})`);
      else if (res.outcome === "deferred") {
        console.log(`feed ${feed.id}: deferred until ${when(res.deferred!.until)} UTC (${res.deferred!.reason === "hold" ? "the host asked to wait" : "host budget spent"})`);
      } else console.log(`feed ${feed.id}: failed, ${res.errorClass} (HTTP ${res.status ?? "-"}); see \`pnpm newsfeed feeds show ${feed.id}\``);
      if (res.outcome === "error") process.exitCode = 1;
    } finally {
      await rt.close();
    }
  },
};

/** A subcommand that changes one feed's state and says what it did (or that nothing needed doing). */
function stateChange(spec: {
  name: string;
  summary: string;
  change: (db: Parameters<typeof findFeed>[0], id: number) => Promise<boolean>;
  done: string;
  unchanged: (f: Feed) => string;
}): Command {
  return {
    name: spec.name,
    args: "<id|url>",
    arity: [1, 1],
    summary: spec.summary,
    options: { json: { type: "boolean" } },
    optionHelp: { json: "the result as one JSON object" },
    examples: [`pnpm newsfeed feeds ${spec.name} 12`, `pnpm newsfeed feeds ${spec.name} https://example.com/rss.xml`],
    async run({ positionals, values }) {
      await withDb(async ({ db }) => {
        const feed = await feedArg(db, positionals[0]!);
        const changed = await spec.change(db, feed.id);
        if (values.json) console.log(JSON.stringify({ feedId: feed.id, changed }));
        else console.log(changed ? `feed ${feed.id}: ${spec.done}` : `feed ${feed.id}: ${spec.unchanged(feed)}`);
      });
    },
  };
}

const pause = stateChange({
  name: "pause", summary: "Stop polling a feed (its items and stories stay)", change: pauseFeed,
  done: "paused", unchanged: (f) => `not paused: it is ${f.state}`,
});
const resume = stateChange({
  name: "resume", summary: "Poll a paused or gone feed again, from now", change: (db, id) => resumeFeed(db, id),
  done: "polled again from now", unchanged: () => "already active",
});
const resetErrors = stateChange({
  name: "reset-errors", summary: "Clear a feed's errors and check it now (the backoff starts over)",
  change: (db, id) => resetFeedErrors(db, id), done: "errors cleared, due now", unchanged: () => "has no errors",
});

const remove: Command = {
  name: "remove",
  args: "<id|url>",
  arity: [1, 1],
  summary: "Delete a feed with its items and fetch history; its stories are recomputed, those left empty deleted",
  options: { yes: { type: "boolean" }, "dry-run": { type: "boolean" }, json: { type: "boolean" } },
  optionHelp: {
    yes: "required to delete (no prompt: scripts pass it); without it nothing changes",
    "dry-run": "count what would be removed; change nothing",
    json: "the result as one JSON object",
  },
  examples: [
    "pnpm newsfeed feeds remove 12 --dry-run",
    "pnpm newsfeed feeds remove https://example.com/rss.xml --yes",
    "pnpm --silent newsfeed feeds remove 12 --yes --json | jq .items",
    "# The feed is paused first, then its items go 1,000 a transaction (stories recomputed in each), its fetches,",
    "# and the feed last. Interrupted, it leaves a paused feed with fewer items: run it again to finish.",
    "# Exit codes: 0 removed (or counted), 1 failed, 2 usage error (no --yes or --dry-run, or no such feed).",
  ],
  async run({ positionals, values }) {
    const dryRun = values["dry-run"] === true;
    if (!dryRun && values.yes !== true) {
      throw new UsageError(
        `'feeds remove' deletes the feed's items and fetch history for good: add --yes (or see what would go with --dry-run)`,
      );
    }
    // Progress on stderr once a removal runs for more than a second, then every second.
    const tty = process.stderr.isTTY === true;
    let lastLine = Date.now();
    let printed = false;
    const onProgress = (p: RemoveFeedResult) => {
      if (Date.now() - lastLine < 1000) return;
      lastLine = Date.now();
      printed = true;
      const line = `removing feed ${p.feedId}: ${p.items} items, ${p.fetches} fetches, ${p.storiesDeleted} stories deleted (${p.batches} transactions)`;
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    };
    await withDb(async ({ db, pool }) => {
      await assertSchemaCurrent(pool);
      const feed = await feedArg(db, positionals[0]!);
      const res = await removeFeed(db, feed.id, { dryRun, onProgress });
      if (tty && printed) process.stderr.write("\n");
      // Removed by someone else between the two statements.
      if (!res) throw new UsageError(`no feed '${positionals[0]!}' (give a feed id or URL; see \`pnpm newsfeed feeds list\`)`);
      if (values.json) {
        console.log(JSON.stringify({ dryRun, ...res }));
        return;
      }
      const rows: [string, number][] = dryRun
        ? [["items to delete", res.items], ["fetches to delete", res.fetches], ["stories to recompute", res.storiesRecomputed], ["stories to delete (left without copies)", res.storiesDeleted]]
        : [["items deleted", res.items], ["fetches deleted", res.fetches], ["stories recomputed", res.storiesRecomputed], ["stories deleted (left without copies)", res.storiesDeleted]];
      console.log(dryRun ? `dry run, nothing changed: removing feed ${res.feedId} (${safe(res.url)}) would delete` : `removed feed ${res.feedId}: ${safe(res.url)}`);
      const w = Math.max(...rows.map(([k]) => k.length));
      for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
    });
  },
};

export const feedsCommand: Command = {
  name: "feeds",
  summary: "Add, import, export, list, show, poll, pause, resume and remove feeds",
  examples: [
    "pnpm newsfeed feeds add https://example.com/rss.xml",
    "pnpm newsfeed feeds import subscriptions.opml",
    "pnpm newsfeed feeds list",
    "pnpm newsfeed feeds show 12",
    "pnpm newsfeed feeds remove 12 --yes",
  ],
  subcommands: [add, importCmd, exportCmd, list, show, poll, pause, resume, resetErrors, remove],
};

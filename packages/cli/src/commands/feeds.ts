import { readFile } from "node:fs/promises";
import { addFeed, listFeeds } from "@newsfeed/store";
import { UsageError, type Command } from "../cli.ts";
import { safe, table, truncate } from "../format.ts";
import { parseOpml, renderOpml } from "../opml.ts";
import { feedUrlArg, withDb } from "./shared.ts";

const add: Command = {
  name: "add",
  args: "<url>",
  arity: [1, 1],
  summary: "Add a feed to poll (an existing URL is left as it is)",
  options: { title: { type: "string" } },
  optionHelp: { title: "a title to show until the feed supplies its own" },
  examples: ["pnpm newsfeed feeds add https://example.com/rss.xml"],
  async run({ positionals, values }) {
    const url = feedUrlArg(positionals[0]!);
    await withDb(async ({ db }) => {
      const { feed, created } = await addFeed(db, { url, title: (values.title as string | undefined) ?? null });
      console.log(created ? `added feed ${feed.id}: ${safe(url)}` : `feed ${feed.id} already exists: ${safe(url)}`);
    });
  },
};

const importCmd: Command = {
  name: "import",
  args: "<file.opml>",
  arity: [1, 1],
  summary: "Add every feed of an OPML file",
  examples: ["pnpm newsfeed feeds import subscriptions.opml"],
  async run({ positionals }) {
    const file = positionals[0]!;
    let xml: string;
    try {
      xml = await readFile(file, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let entries;
    try {
      entries = parseOpml(xml);
    } catch (err) {
      throw new UsageError(`${file}: ${(err as Error).message}`);
    }
    await withDb(async ({ db }) => {
      let added = 0;
      let existing = 0;
      const skipped: string[] = [];
      for (const e of entries) {
        let url: string;
        try {
          url = feedUrlArg(e.url);
        } catch {
          skipped.push(e.url);
          continue;
        }
        const { created } = await addFeed(db, { url, title: e.title });
        if (created) added++;
        else existing++;
      }
      for (const s of skipped) console.error(`skipped (not an http(s) URL): ${safe(s)}`);
      console.log(`${entries.length} feeds in ${file}: ${added} added, ${existing} already present, ${skipped.length} skipped`);
    });
  },
};

const exportCmd: Command = {
  name: "export",
  summary: "Print every feed as OPML 2.0",
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
        console.log(JSON.stringify(feeds, null, 2));
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

export const feedsCommand: Command = {
  name: "feeds",
  summary: "Add, import, export and list feeds",
  subcommands: [add, importCmd, exportCmd, list],
};

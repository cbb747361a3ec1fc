import { listStories } from "@newsfeed/store";
import { UsageError, type Command } from "../cli.ts";
import { safeJson, table, truncate } from "../format.ts";
import { parseSince } from "../format.ts";
import { intArg, withDb } from "./shared.ts";

export const storiesCommand: Command = {
  name: "stories",
  summary: "Show stories (clusters of copies), most outlets first",
  options: { since: { type: "string" }, limit: { type: "string" }, json: { type: "boolean" } },
  optionHelp: {
    since: "last seen at or after: a duration ago (90m, 24h, 7d) or an ISO time (default 7d)",
    limit: "how many stories (default 20)",
    json: "one JSON array instead of a table",
  },
  examples: ["pnpm newsfeed stories", "pnpm newsfeed stories --since 24h --limit 50", "pnpm newsfeed stories --since 2026-11-01T00:00:00Z --json"],
  async run({ values }) {
    const sinceText = (values.since as string | undefined) ?? "7d";
    const since = parseSince(sinceText);
    if (!since) throw new UsageError(`--since must be a duration (24h, 7d) or an ISO time, got '${sinceText}'`);
    const limit = intArg("limit", values.limit as string | undefined, 20);
    await withDb(async ({ db }) => {
      const stories = await listStories(db, { since, limit });
      if (values.json) {
        console.log(safeJson(stories, 2));
        return;
      }
      if (stories.length === 0) {
        console.log(`no stories seen since ${since.toISOString()}`);
        return;
      }
      console.log(printStories(stories));
    });
  },
};

export function printStories(stories: Awaited<ReturnType<typeof listStories>>): string {
  return table(
    ["outlets", "copies", "published (UTC)", "title"],
    stories.map((s) => [
      s.outlets, s.copies, (s.publishedAt ?? s.firstSeenAt).toISOString().slice(0, 16).replace("T", " "), truncate(s.title, 90),
    ]),
  );
}

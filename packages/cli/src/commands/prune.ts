import { assertSchemaCurrent, prune, type PruneProgress, type PruneResult } from "@newsfeed/store";
import { UsageError, type Command } from "../cli.ts";
import { parseDuration } from "../format.ts";
import { intArg, withDb } from "./shared.ts";

const MAX_BATCH = 50_000;

function durationArg(name: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`--${name} must be a duration such as 90d, 12h or 2w, got '${text}'`);
  if (ms <= 0) throw new UsageError(`--${name} must be longer than 0, got '${text}'`);
  return ms;
}

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

function progressLine(p: PruneProgress, seconds: number): string {
  return (
    `pruning ${p.phase}: ${p.fetchesDeleted} fetches, ${p.bodiesRemoved} bodies, ${p.itemsDeleted} items, ` +
    `${p.storiesDeleted} stories removed (${p.batches} batches, ${seconds.toFixed(0)} s)`
  );
}

export const pruneCommand: Command = {
  name: "prune",
  summary: "Delete old fetch history and archived bodies in small batches (items and stories too, with --items)",
  options: {
    "older-than": { type: "string" },
    "bodies-older-than": { type: "string" },
    items: { type: "boolean" },
    batch: { type: "string" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
  },
  optionHelp: {
    "older-than": "required: delete fetches (with their bodies) older than this: 90d, 12h, 2w",
    "bodies-older-than": "also clear the archived bodies of kept fetches older than this (≤ --older-than)",
    items: "also delete items last seen before --older-than, and the stories left without copies",
    batch: `rows per statement, each its own short transaction (default 2000, at most ${MAX_BATCH})`,
    "dry-run": "count what would be removed; change nothing",
    json: "print the summary as one JSON object",
  },
  examples: [
    "pnpm newsfeed prune --older-than 90d --dry-run",
    "pnpm newsfeed prune --older-than 90d",
    "pnpm newsfeed prune --older-than 90d --bodies-older-than 14d",
    "pnpm newsfeed prune --older-than 52w --items --json",
  ],
  async run({ values }) {
    const olderText = values["older-than"] as string | undefined;
    if (olderText === undefined) throw new UsageError("--older-than is required: a duration such as 90d, 12h or 2w");
    const olderMs = durationArg("older-than", olderText);
    const bodiesText = values["bodies-older-than"] as string | undefined;
    const bodiesMs = bodiesText === undefined ? undefined : durationArg("bodies-older-than", bodiesText);
    if (bodiesMs !== undefined && bodiesMs > olderMs) {
      throw new UsageError(`--bodies-older-than ${bodiesText} is longer than --older-than ${olderText}: those fetches are deleted whole`);
    }
    const batchSize = intArg("batch", values.batch as string | undefined, 2_000);
    if (batchSize > MAX_BATCH) throw new UsageError(`--batch must be at most ${MAX_BATCH}, got '${values.batch as string}'`);
    const dryRun = values["dry-run"] === true;
    const items = values.items === true;
    const now = Date.now();
    const before = new Date(now - olderMs);
    const bodiesBefore = bodiesMs === undefined ? undefined : new Date(now - bodiesMs);

    const tty = process.stderr.isTTY === true;
    const t0 = Date.now();
    let lastLine = 0;
    const onProgress = (p: PruneProgress) => {
      if (Date.now() - lastLine < 1000) return;
      lastLine = Date.now();
      const line = progressLine(p, (Date.now() - t0) / 1000);
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    };
    const res: PruneResult = await withDb(async ({ db, pool }) => {
      await assertSchemaCurrent(pool);
      return prune(db, { before, bodiesBefore, items, batchSize, dryRun, onProgress });
    });
    if (tty && lastLine) process.stderr.write("\n");
    const seconds = (Date.now() - t0) / 1000;

    if (values.json) {
      console.log(JSON.stringify({
        dryRun, olderThan: olderText, cutoff: before.toISOString(), bodiesCutoff: bodiesBefore?.toISOString() ?? null, items,
        ...res, seconds,
      }));
      return;
    }
    const verb = (done: string, would: string) => (dryRun ? would : done);
    const rows: [string, string][] = [
      [verb("fetches deleted", "fetches to delete"), String(res.fetchesDeleted)],
      [verb("archived bodies removed", "archived bodies to remove"), `${res.bodiesRemoved} (${mb(res.bodyBytes)})`],
      [verb("items deleted", "items to delete"), items ? String(res.itemsDeleted) : "0 (kept: add --items to prune them)"],
      [verb("stories deleted", "stories to delete"), items ? String(res.storiesDeleted) : "0 (kept)"],
      [verb("stories updated", "stories to update"), String(res.storiesUpdated)],
      ["elapsed", `${seconds.toFixed(1)} s${dryRun ? "" : ` (${res.batches} batches of up to ${batchSize} rows)`}`],
    ];
    const w = Math.max(...rows.map(([k]) => k.length));
    const head = dryRun ? "dry run, nothing changed: older than" : "pruned what was older than";
    const bodies = bodiesBefore ? `; archived bodies older than ${bodiesBefore.toISOString()} (${bodiesText})` : "";
    console.log(`${head} ${before.toISOString()} (${olderText})${bodies}`);
    for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
  },
};

/**
 * `replay fetches | failed | file` (and `replay items`, in replay-items.ts):
 * safe to run twice, progress on stderr, a closing summary, exit 1 when
 * anything failed.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { decodeBody, NewestVersions, normalizeItems, parseFeed, readArchivedBody } from "@newsfeed/ingest";
import { fetchJobSchema, itemsJobSchema, QUEUES, type QueueName, queuePrefix } from "@newsfeed/jobs";
import { archivedFeeds, archivedFetchPage, type ArchivedFetch } from "@newsfeed/store";
import { UsageError, type Command } from "../cli.ts";
import { loadConfig } from "../config.ts";
import { safe, table, truncate } from "../format.ts";
import { emptySummary, Progress, summaryLine } from "../progress.ts";
import { parseJsonLines } from "../replay/jsonl.ts";
import { errorText, finishReplay, openReplay, type ReplayReport } from "../replay/sink.ts";
import { replayItemsCommand } from "./replay-items.ts";
import { feedArg, intArg, timeArg } from "./shared.ts";

/** Archived bodies read per query: a page is held in memory at once, never the whole range. */
const PAGE = 20;
const QUEUE_NAMES = Object.values(QUEUES) as QueueName[];
const fmt = (n: number) => n.toLocaleString("en-US");

const olderNote = (r: ReplayReport) =>
  r.older ? `; ${fmt(r.older)} of the unchanged are older than the stored version (kept)` : "";

const COMMON_HELP = {
  "dry-run": "say what would change and change nothing (no row, no Redis key)",
  "fetch-pages": "full-text feeds: fetch the pages of new and changed items, as polling does (default: no page is fetched)",
};

const fetches: Command = {
  name: "fetches",
  summary: "Re-parse archived feed bodies with today's ingest code and dedupe their new and changed items",
  options: {
    feed: { type: "string" }, all: { type: "boolean" }, since: { type: "string" }, until: { type: "string" },
    "dry-run": { type: "boolean" }, "fetch-pages": { type: "boolean" }, json: { type: "boolean" },
  },
  optionHelp: {
    feed: "the feed, by id or URL (or --all)",
    all: "every feed with archived bodies in the range",
    since: "fetches started at or after: a duration ago (24h, 7d) or an ISO time (required)",
    until: "… and before: a duration ago or an ISO time (default: now)",
    ...COMMON_HELP,
    json: "the summary as one JSON object (read, new, updated, unchanged, failed, older, failures, fetches, parsed …)",
  },
  examples: [
    "pnpm newsfeed replay fetches --feed 12 --since 7d",
    "pnpm newsfeed replay fetches --all --since 2024-05-01T00:00:00Z --until 2024-05-02T00:00:00Z --dry-run",
    "pnpm --silent newsfeed replay fetches --feed https://example.com/rss.xml --since 24h --json",
    "# Archived bodies: ok fetches that kept their body, oldest first. Each item (feed + identity) is replayed once, in",
    "# the version of the newest fetch that carried it, seen when that version first appeared; it never overwrites a",
    "# stored version seen later (counted unchanged, and as 'older'). Unchanged items are not sent to dedupe.",
    "# Full-text feeds: without --fetch-pages no page is fetched; unchanged items keep their stored text, new and",
    "# changed ones are stored with the text the feed carried.",
    "# Summary: read = distinct items, failed = unreadable bodies + items that could not be saved (listed on stderr).",
    "# Exit codes: 0 done, 1 something failed (the rest was replayed), 2 usage error.",
  ],
  async run({ values }) {
    const feedText = values.feed as string | undefined;
    if (!!feedText === (values.all === true)) {
      throw new UsageError("give exactly one of --feed <id|url> or --all (see 'newsfeed replay fetches --help')");
    }
    if (values.since === undefined) throw new UsageError("missing --since <time> (see 'newsfeed replay fetches --help')");
    const since = timeArg("since", values.since as string);
    const until = values.until === undefined ? new Date() : timeArg("until", values.until as string);
    if (since >= until) throw new UsageError(`--since (${since.toISOString()}) must be before --until (${until.toISOString()})`);
    const dryRun = values["dry-run"] === true;
    const env = await openReplay(loadConfig(), { dryRun, fetchPages: values["fetch-pages"] === true });
    try {
      const db = env.db.db;
      const feedId = feedText ? (await feedArg(db, feedText)).id : undefined;
      const feeds = await archivedFeeds(db, { feedId, since, until });
      const progress = new Progress({
        label: `replaying fetches${dryRun ? " (dry run)" : ""}`, total: feeds.reduce((n, f) => n + f.fetches, 0),
      });
      let done = 0;
      let bodies = 0;
      let parsed = 0;
      for (const feed of feeds) {
        // The newest version of each of the feed's items, over all its fetches in the range.
        const newest = new NewestVersions();
        let after: ArchivedFetch | null = null;
        for (;;) {
          const page: ArchivedFetch[] = await archivedFetchPage(db, feed.feedId, { since, until }, after, PAGE);
          for (const f of page) {
            try {
              const items = await readArchivedBody(f, feed.url);
              newest.add(items);
              parsed += items.length;
              bodies++;
            } catch (err) {
              env.sink.fail(`fetch ${f.id} (feed ${f.feedId}, ${f.startedAt.toISOString()})`, err);
            }
            progress.update(++done, `${fmt(parsed)} items parsed`);
          }
          if (page.length < PAGE) break;
          after = page[page.length - 1]!;
        }
        await env.sink.apply({ id: feed.feedId, fullText: feed.fullText }, newest.values());
      }
      return finishReplay(progress, env.sink.report, {
        json: values.json === true,
        line: (r) => summaryLine(`replayed ${fmt(bodies)} archived fetches of ${fmt(feeds.length)} feeds`, r) + olderNote(r),
        extra: { since: since.toISOString(), until: until.toISOString(), feeds: feeds.length, fetches: bodies, parsed },
      });
    } finally {
      await env.close();
    }
  },
};

const file: Command = {
  name: "file",
  args: "<file>",
  arity: [1, 1],
  summary: "Ingest a captured feed file (RSS, Atom, JSON Feed) or items.jsonl as if it had been fetched (backfill)",
  options: {
    feed: { type: "string" }, "seen-at": { type: "string" }, "dry-run": { type: "boolean" }, "fetch-pages": { type: "boolean" },
    json: { type: "boolean" },
  },
  optionHelp: {
    feed: "the feed the items belong to, by id or URL (required)",
    "seen-at": "when the items were seen: a duration ago or an ISO time (default: now; a jsonl line's seenAt wins)",
    ...COMMON_HELP,
    json: "the summary as one JSON object (read, new, updated, unchanged, failed, older, failures …)",
  },
  examples: [
    "pnpm newsfeed replay file saved-feed.xml --feed 12",
    "pnpm newsfeed replay file feed.json --feed https://example.com/feed.json --seen-at 2024-05-01T10:00:00Z",
    "pnpm newsfeed replay file items.jsonl --feed 12 --dry-run",
    "# A .jsonl or .ndjson file holds one item a line; any other file is read as a feed (XML or JSON Feed).",
    '# Line: {"title": "…", "content": "<p>…</p>", "url": "https://…", "guid": "…", "publishedAt": "<ISO time>", "seenAt": "<ISO time>"}',
    "# title and content are required; the others may be null or absent; other fields (identityKey, contentHash …) are",
    "# ignored: identity and content hash are computed as for a feed entry. A bad line is counted failed, with its number.",
    "# Items already stored with the same content are unchanged; a version never overwrites one seen later.",
    "# Exit codes: 0 done, 1 something failed (a bad line, an unreadable feed), 2 usage error (a file that cannot be read).",
  ],
  async run({ positionals, values }) {
    const path = positionals[0]!;
    const feedText = values.feed as string | undefined;
    if (!feedText) throw new UsageError("missing --feed <id|url>: the feed the file's items belong to (see 'newsfeed replay file --help')");
    const seenAt = values["seen-at"] === undefined ? new Date() : timeArg("seen-at", values["seen-at"] as string);
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch (err) {
      throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const dryRun = values["dry-run"] === true;
    const env = await openReplay(loadConfig(), { dryRun, fetchPages: values["fetch-pages"] === true });
    try {
      const feed = await feedArg(env.db.db, feedText);
      const ctx = { feedId: feed.id, feedUrl: feed.url, seenAt };
      const newest = new NewestVersions();
      if ([".jsonl", ".ndjson"].includes(extname(path).toLowerCase())) {
        const res = parseJsonLines(body.toString("utf8").replace(/^\uFEFF/, ""), ctx);
        for (const f of res.failures) env.sink.fail(`line ${f.line}`, f.error);
        newest.add(res.items);
      } else {
        try {
          newest.add(normalizeItems(await parseFeed(decodeBody(body, null)), ctx));
        } catch (err) {
          env.sink.fail(path, err);
        }
      }
      const items = newest.values();
      const progress = new Progress({ label: `replaying ${safe(path)}${dryRun ? " (dry run)" : ""}`, total: items.length });
      await env.sink.apply(feed, items, (done) => progress.update(done));
      return finishReplay(progress, env.sink.report, {
        json: values.json === true,
        line: (r) => summaryLine(`replayed ${safe(path)} into feed ${feed.id}`, r) + olderNote(r),
        extra: { file: path, feedId: feed.id },
      });
    } finally {
      await env.close();
    }
  },
};

interface FailedJobRow {
  id: string | undefined;
  feedId: number | null;
  items: number | null;
  failedAt: string | null;
  attempts: number;
  error: string;
  /** retried | would retry | not retried */
  action: string;
}

const failed: Command = {
  name: "failed",
  summary: "Retry the failed jobs of a queue, oldest first",
  options: { queue: { type: "string" }, limit: { type: "string" }, "dry-run": { type: "boolean" }, json: { type: "boolean" } },
  optionHelp: {
    queue: `the queue: ${QUEUE_NAMES.join(" or ")} (required)`,
    limit: "at most this many jobs, oldest failure first (default: all)",
    "dry-run": "list the jobs that would be retried; retry none",
    json: "the summary as one JSON object, with the jobs (read = failed jobs found, new = retried, failed = not retried)",
  },
  examples: [
    "pnpm newsfeed replay failed --queue items",
    "pnpm newsfeed replay failed --queue fetch --limit 100 --dry-run",
    "pnpm --silent newsfeed replay failed --queue items --json",
    "# A retried job goes back to its queue with its attempts reset; the running workers process it (items jobs",
    "# are idempotent). A job whose payload no longer parses is not retried: it stays failed and counts as failed.",
    "# Run twice, the second run finds none of the jobs the first retried. See `pnpm newsfeed queues` for progress.",
    "# Exit codes: 0 done, 1 some job not retried, 2 usage error.",
  ],
  async run({ values }) {
    const name = values.queue as string | undefined;
    if (!name || !QUEUE_NAMES.includes(name as QueueName)) {
      throw new UsageError(`--queue must be ${QUEUE_NAMES.join(" or ")}, got '${name ?? ""}'`);
    }
    const limit = intArg("limit", values.limit as string | undefined, Number.POSITIVE_INFINITY);
    const dryRun = values["dry-run"] === true;
    const config = loadConfig();
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
    await redis.connect();
    const queue = new Queue(name, { connection: redis, prefix: queuePrefix(config.NEWSFEED_REDIS_PREFIX) });
    try {
      const jobs = (await queue.getJobs(["failed"], 0, Number.isFinite(limit) ? limit - 1 : -1, true)).filter(Boolean);
      const schema = name === QUEUES.items ? itemsJobSchema : fetchJobSchema;
      const report: ReplayReport = { ...emptySummary(dryRun), failures: [] };
      const progress = new Progress({ label: `retrying failed ${name} jobs${dryRun ? " (dry run)" : ""}`, total: jobs.length });
      const rows: FailedJobRow[] = [];
      for (const job of jobs) {
        const data = job.data as { feedId?: number; items?: unknown[] };
        const row: FailedJobRow = {
          id: job.id, feedId: data.feedId ?? null, items: Array.isArray(data.items) ? data.items.length : null,
          failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null, attempts: job.attemptsMade,
          error: job.failedReason, action: "not retried",
        };
        rows.push(row);
        report.read++;
        const parsed = schema.safeParse(job.data);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          report.failed++;
          report.failures.push({ what: `job ${job.id}`, error: `payload invalid, not retried: ${issue.path.join(".")}: ${issue.message}` });
        } else if (dryRun) {
          report.new++;
          row.action = "would retry";
        } else {
          try {
            await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
            report.new++;
            row.action = "retried";
          } catch (err) {
            report.failed++;
            report.failures.push({ what: `job ${job.id}`, error: errorText(err) });
          }
        }
        progress.update(report.read);
      }
      if (dryRun && values.json !== true && rows.length) {
        console.log(table(["failed at (UTC)", "job", "feed", "items", "attempts", "error", "would"], rows.map((r) => [
          (r.failedAt ?? "").slice(0, 19).replace("T", " "), truncate(r.id ?? "", 40), r.feedId ?? "-", r.items ?? "-",
          r.attempts, truncate(safe(r.error), 60), r.action === "would retry" ? "retry" : "not retry",
        ])));
      }
      return finishReplay(progress, report, {
        json: values.json === true,
        line: (r) =>
          `${name} queue: ${fmt(r.read)} failed jobs found; ` +
          (r.dryRun ? `dry run, nothing changed: would retry ${fmt(r.new)}` : `retried ${fmt(r.new)} (back in the queue for the ${name} workers)`) +
          `, not retried ${fmt(r.failed)}`,
        extra: { queue: name, retried: dryRun ? 0 : report.new, jobs: rows },
      });
    } finally {
      await queue.close();
      await redis.quit().catch(() => redis.disconnect());
    }
  },
};

export const replayCommand: Command = {
  name: "replay",
  summary: "Replay archived fetches, stored items, failed jobs or a captured file through the pipeline",
  subcommands: [fetches, replayItemsCommand, failed, file],
  examples: [
    "pnpm newsfeed replay fetches --all --since 6h --dry-run",
    "pnpm newsfeed replay items --since 3d --recluster",
    "pnpm newsfeed replay failed --queue items",
    "pnpm newsfeed replay file captured.xml --feed https://example.com/rss.xml",
  ],
};

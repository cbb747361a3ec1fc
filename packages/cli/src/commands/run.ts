import type { Queue } from "bullmq";
import { addFeed, listFeeds, listStories, makeAllFeedsDue, runMigrations, redactUrl } from "@newsfeed/store";
import { UsageError, type Command } from "../cli.ts";
import { loadConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { closeOnSignal, createRuntime, startServices, type Role, type Runtime } from "../runtime.ts";
import { startSampleServer } from "../sample/server.ts";
import { printStories } from "./stories.ts";

const ROLES: Role[] = ["ingest", "dedupe", "all"];

export const runCommand: Command = {
  name: "run",
  args: "<ingest|dedupe|all>",
  arity: [1, 1],
  summary:
    "Run services until SIGINT/SIGTERM: ingest (scheduler + fetch worker), dedupe, or all. On the signal: no new work, " +
    "the jobs in hand finish (up to SHUTDOWN_TIMEOUT_MS), exit 0; jobs still running then are left to be retried, exit 1; " +
    "a second signal exits at once, 130",
  examples: [
    "pnpm newsfeed run all", "INGEST_CONCURRENCY=32 pnpm newsfeed run ingest", "pnpm newsfeed run dedupe",
    "SHUTDOWN_TIMEOUT_MS=60000 pnpm newsfeed run dedupe",
  ],
  async run({ positionals }) {
    const role = positionals[0] as Role;
    if (!ROLES.includes(role)) {
      throw new UsageError(`unknown role '${role}': use ingest, dedupe or all`);
    }
    const config = loadConfig();
    const rt = createRuntime(config, createLogger(config.LOG_LEVEL));
    try {
      await startServices(rt, role);
    } catch (err) {
      await rt.close();
      throw err;
    }
    return closeOnSignal(rt);
  },
};

async function queueIdle(queues: Queue[]): Promise<boolean> {
  for (const q of queues) {
    const c = await q.getJobCounts("waiting", "active", "delayed", "prioritized", "paused");
    if (Object.values(c).some((n) => n > 0)) return false;
  }
  return true;
}

/** Waits until every feed in `urls` was checked after `since` and the queues are empty. */
async function waitForRound(rt: Runtime, urls: Set<string>, since: Date, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const feeds = (await listFeeds(rt.db.db)).filter((f) => urls.has(f.url));
    const checked = feeds.every((f) => f.lastCheckedAt && f.lastCheckedAt >= since);
    if (checked && (await queueIdle([rt.fetchQueue, rt.itemsQueue]))) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

export const startCommand: Command = {
  name: "start",
  summary: "Migrate, then run everything; with no feeds configured, serve and poll the bundled sample first",
  examples: ["pnpm start", "NEWSFEED_SAMPLE=false pnpm newsfeed start"],
  async run() {
    const config = loadConfig();
    const logger = createLogger(config.LOG_LEVEL);
    const migrated = await runMigrations(config.DATABASE_URL);
    logger.info({ database: redactUrl(config.DATABASE_URL), applied: migrated.applied }, "schema up to date");
    const rt = createRuntime(config, logger);
    const sampleBase = `http://127.0.0.1:${config.NEWSFEED_SAMPLE_PORT}`;
    const configured = (await listFeeds(rt.db.db)).filter((f) => !f.url.startsWith(`${sampleBase}/`));
    let sample: Awaited<ReturnType<typeof startSampleServer>> | undefined;
    if (configured.length === 0 && config.NEWSFEED_SAMPLE) {
      try {
        sample = await startSampleServer(config.NEWSFEED_SAMPLE_PORT);
      } catch (err) {
        await rt.close();
        throw new Error(
          `cannot serve the bundled sample on ${sampleBase} (${(err as NodeJS.ErrnoException).code ?? err}): set NEWSFEED_SAMPLE_PORT to a free port`,
        );
      }
      const server = sample;
      rt.onClose(() => server.close());
      // The sample is served on loopback, which the SSRF guard refuses unless allowed.
      rt.pollDeps.http = { ...rt.pollDeps.http, allowPrivate: [...(rt.pollDeps.http.allowPrivate ?? []), "127.0.0.1"] };
      for (const url of sample.feedUrls) await addFeed(rt.db.db, { url });
      await makeAllFeedsDue(rt.db.db);
      logger.info({ feeds: sample.feedUrls.length, at: sample.baseUrl }, "no feeds configured: polling the bundled sample");
    } else {
      logger.info({ feeds: configured.length }, "polling the configured feeds");
    }
    const startedAt = new Date(Date.now() - 1000);
    try {
      await startServices(rt, "all");
    } catch (err) {
      await rt.close();
      throw err;
    }
    const stopped = closeOnSignal(rt);
    if (sample) {
      // A signal during the sample round closes the pool under these queries: then just shut down.
      const summary = await (async () => {
        const done = await waitForRound(rt, new Set(sample.feedUrls), startedAt, 60_000);
        return { done, stories: await listStories(rt.db.db, { since: new Date(0), limit: 20 }) };
      })().catch(() => undefined);
      if (summary) {
        console.log(
          `\n${summary.done ? "Stories found in the bundled sample" : "Stories so far (the sample round did not finish in 60 s)"}:\n\n${printStories(summary.stories)}\n\n` +
            "newsfeed keeps polling; add your own feeds with `pnpm newsfeed feeds add <url>`. Ctrl-C stops it.\n",
        );
      }
    }
    return stopped;
  },
};

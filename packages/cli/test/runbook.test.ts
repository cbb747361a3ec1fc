/**
 * docs/operations.md is tested: every `pnpm newsfeed` line of its sh blocks runs, in order,
 * as the real CLI against a scratch database and Redis prefix, with the runbook's example feeds
 * (https://feeds.example.com/…) served from 127.0.0.1; each section's promise is checked.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Redis } from "ioredis";
import { cliEnv, dropRedisPrefix, runCli, scratchDatabase, snapshotRows, testConfig } from "./helpers.ts";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
// Services run under node itself (tsx's loader), so that their own exit code on SIGTERM is seen.
const TSX_LOADER = new URL("../../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;
const RUNBOOK = fileURLToPath(new URL("../../../docs/operations.md", import.meta.url));
const EXAMPLE = "https://feeds.example.com/";

/** The runbook's sections: heading, and the lines of its sh blocks. */
export function runbookSections(markdown: string): { heading: string; lines: string[] }[] {
  const sections: { heading: string; lines: string[] }[] = [];
  let inSh = false;
  for (const line of markdown.split("\n")) {
    if (/^## /.test(line)) sections.push({ heading: line.slice(3).trim(), lines: [] });
    else if (/^```sh\s*$/.test(line)) inSh = true;
    else if (/^```/.test(line)) inSh = false;
    else if (inSh && line.trim() && sections.length) sections[sections.length - 1]!.lines.push(line.trim());
  }
  return sections;
}

// Wire copy and two outlets' reprints: three stories, each carried by all three feeds, with
// texts of their own (words drawn from 1,728 made-up ones by a seeded generator).
const SYLLABLES = ["ka", "lo", "mi", "ra", "te", "sun", "dor", "vel", "pa", "ni", "gro", "est"];
function article(seed: number, n = 150): string {
  let x = seed * 2_654_435_761;
  const next = () => ((x = (Math.imul(x ^ (x >>> 15), 2_246_822_519) + 0x9e3779b9) >>> 0), x);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push([0, 1, 2].map(() => SYLLABLES[next() % SYLLABLES.length]).join(""));
  return `${words.join(" ")}.`;
}
const STORIES = [1, 2, 3];
function rss(outlet: string, stories: number[]): string {
  const items = stories
    .map((s) => `<item><guid>${outlet}-${s}</guid><title>${outlet} headline ${s}</title><link>https://${outlet}.example/${s}</link>` +
      `<pubDate>${new Date(Date.now() - (10 - s) * 60_000).toUTCString()}</pubDate><description>${article(s)}</description></item>`)
    .join("");
  return `<?xml version="1.0"?><rss version="2.0"><channel><title>${outlet}</title><link>https://${outlet}.example/</link>${items}</channel></rss>`;
}

const db = scratchDatabase("nf_runbook");
const config = testConfig(db.url);
let server: Server;
let base = "";
let cwd = "";
let pool: pg.Pool;
const services: ChildProcess[] = [];

const env = (): NodeJS.ProcessEnv => ({
  ...process.env, ...cliEnv(config), FETCH_ALLOW_PRIVATE: "127.0.0.1", SCHEDULER_INTERVAL_MS: "200", LOG_LEVEL: "warn", NEWSFEED_SAMPLE: "false",
  NEWSFEED_HTTP_PORT: "0",
});

/** The runbook's line as argv: `pnpm newsfeed a b` → [a, b], example feeds served locally. */
const argvOf = (line: string) => line.replace(/^pnpm newsfeed\s+/, "").replaceAll(EXAMPLE, `${base}/`).split(/\s+/);

const newsfeed = (args: string[]) => runCli(args, env(), { cwd, timeout: 120_000 });

async function stopServices(): Promise<void> {
  for (const p of services.splice(0)) {
    let stderr = "";
    p.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<[number | null, string | null]>((r) => p.once("exit", (code, signal) => r([code, signal])));
    if (p.exitCode === null) p.kill("SIGTERM");
    const [code, signal] = p.exitCode !== null ? [p.exitCode, null] : await exited;
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: expect.any(String) });
  }
}

const count = async (sql: string) => Number((await pool.query(sql)).rows[0].n);

beforeAll(async () => {
  server = createServer((req, res) => {
    const m = /^\/(wire|planet|post)\.xml$/.exec(req.url ?? "");
    if (!m) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "application/rss+xml" });
    res.end(rss(m[1]!, STORIES));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cwd = await mkdtemp(join(tmpdir(), "nf-runbook-"));
  await writeFile(
    join(cwd, "subscriptions.opml"),
    `<opml version="2.0"><body><outline text="Planet" xmlUrl="${base}/planet.xml"/><outline text="Post" xmlUrl="${base}/post.xml"/></body></opml>`,
  );
  // A captured file: one story the feed no longer carries, and one it does.
  await writeFile(join(cwd, "captured.xml"), rss("wire", [3, 4]));
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});

afterAll(async () => {
  for (const p of services) p.kill("SIGKILL");
  await pool?.end();
  server?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
  await dropRedisPrefix(config);
  await db.drop();
});

/** What each section promises, checked after its lines ran (and before its services stop). */
const checks: Record<string, { before?: () => Promise<unknown>; after: (before: unknown) => Promise<void> }> = {
  "1. Start": {
    after: async () => {
      expect(await count("SELECT count(*) AS n FROM feeds")).toBe(3);
      expect(await count("SELECT count(*) AS n FROM stories WHERE copies = 3 AND outlets = 3")).toBe(STORIES.length);
    },
  },
  "3. Replay after an outage": {
    // Everything was ingested: replaying it changes no row.
    before: () => snapshotRows(pool),
    after: async (before) => expect(await snapshotRows(pool)).toBe(before),
  },
  "4. Recover after losing Redis": {
    // Redis loses everything under the prefix before the section's commands.
    before: async () => {
      await dropRedisPrefix(config);
      return count("SELECT count(*) AS n FROM stories");
    },
    after: async (stories) => {
      // The index is back, and copies stayed in their stories: no new story, none split.
      const redis = new Redis(config.REDIS_URL);
      try {
        let cursor = "0";
        let found = 0;
        do {
          const [next, keys] = await redis.scan(cursor, "MATCH", `${config.NEWSFEED_REDIS_PREFIX}:idx:*`, "COUNT", 10_000);
          cursor = next;
          found += keys.length;
        } while (cursor !== "0" && found === 0);
        expect(found).toBeGreaterThan(0);
      } finally {
        await redis.quit();
      }
      expect(await count("SELECT count(*) AS n FROM stories")).toBe(stories);
      expect(await count("SELECT count(*) AS n FROM stories WHERE copies = 3 AND outlets = 3")).toBe(STORIES.length);
    },
  },
  "6. After a parser fix or a dedupe change": {
    before: () => snapshotRows(pool),
    after: async (before) => expect(await snapshotRows(pool)).toBe(before),
  },
  "8. A broken feed": {
    after: async () => {
      // The Post is gone with its copies; the stories it shared keep the other two outlets.
      expect(await count("SELECT count(*) AS n FROM feeds")).toBe(2);
      expect(await count("SELECT count(*) AS n FROM stories WHERE copies = 2 AND outlets = 2")).toBe(STORIES.length);
    },
  },
  "7. Backfill from a captured file": {
    after: async () => {
      expect(await count(`SELECT count(*) AS n FROM items WHERE guid = 'wire-4'`)).toBe(1);
    },
  },
};

describe("docs/operations.md", { timeout: 600_000 }, () => {
  const sections = runbookSections(readFileSync(RUNBOOK, "utf8"));

  it("has a check for every section it names, and commands in the sections that need them", () => {
    const headings = sections.map((s) => s.heading);
    for (const h of Object.keys(checks)) expect(headings).toContain(h);
    expect(sections.filter((s) => s.lines.some((l) => l.startsWith("pnpm newsfeed"))).length).toBeGreaterThanOrEqual(8);
  });

  it("runs every command of the runbook, in order, and each section does what it says", async () => {
    for (const section of sections) {
      const check = checks[section.heading];
      const before = await check?.before?.();
      for (const line of section.lines) {
        if (!line.startsWith("pnpm newsfeed")) continue; // git, docker, redis-cli: the operator's
        const args = argvOf(line);
        if (args[0] === "run") {
          const p = spawn(process.execPath, ["--import", TSX_LOADER, MAIN, ...args], {
            cwd, env: { ...env(), LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"],
          });
          services.push(p);
          let log = "";
          p.stdout!.on("data", (d: Buffer) => (log += d.toString()));
          // Running (started, signal handlers in place): every feed checked and its items
          // deduplicated before the next line.
          await vi.waitFor(
            async () => {
              expect(p.exitCode).toBeNull();
              expect(log).toContain("newsfeed services started");
              expect(await count("SELECT count(*) AS n FROM feeds WHERE last_checked_at IS NULL")).toBe(0);
              expect(await count("SELECT count(*) AS n FROM items i WHERE NOT EXISTS (SELECT 1 FROM story_items si WHERE si.item_id = i.id)")).toBe(0);
              expect(await count("SELECT count(*) AS n FROM items")).toBeGreaterThanOrEqual(9);
            },
            { timeout: 90_000, interval: 250 },
          );
          continue;
        }
        const r = await newsfeed(args);
        expect({ line, code: r.code, stderr: r.stderr }).toEqual({ line, code: 0, stderr: expect.any(String) });
      }
      await check?.after(before);
      await stopServices();
    }
  });
});

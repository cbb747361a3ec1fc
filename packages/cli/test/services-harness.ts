/**
 * Shared by shutdown.test.ts, redis-loss.test.ts and scale-out.test.ts: a local news workload
 * that reveals stories over time, the real CLI as subprocesses (services and commands), and the
 * rows a run leaves in Postgres in a form two runs can be compared by.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer as createNetServer } from "node:net";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { expect, vi } from "vitest";

export const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
// Under node itself (tsx's loader), so that the service's own exit code on a signal is seen.
const TSX_LOADER = new URL("../../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;

const SYLLABLES = ["ka", "lo", "mi", "ra", "te", "sun", "dor", "vel", "pa", "ni", "gro", "est"];
/** A made-up article of `n` words, the same for the same seed. */
export function article(seed: number, n: number): string {
  let x = (seed + 1) * 2_654_435_761;
  const next = () => ((x = (Math.imul(x ^ (x >>> 15), 2_246_822_519) + 0x9e3779b9) >>> 0), x);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push([0, 1, 2].map(() => SYLLABLES[next() % SYLLABLES.length]).join(""));
  return `${words.join(" ")}.`;
}

const BASE_TIME = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;

/**
 * `feeds` outlets, each carrying its own copy of every revealed story (story s: the same
 * article in every outlet, with an outlet's sign-off): one story per outlet and story seed.
 * Each run (a path segment) has its own reveal count, so that runs share one server.
 */
export class Workload {
  private server!: Server;
  base = "";
  private readonly revealed = new Map<string, number>();
  private readonly bodies = new Map<string, string>();

  private readonly held = new Set<string>();
  /** Requests to held runs, not answered yet. */
  readonly pending: (() => void)[] = [];

  constructor(readonly feeds: number, readonly words: number) {}

  /** Requests for the feeds of `run` get no answer (a feed that hangs) until release(). */
  hold(run: string): void {
    this.held.add(run);
  }

  release(): void {
    this.held.clear();
    for (const answer of this.pending.splice(0)) answer();
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const m = /^\/([a-z0-9-]+)\/f(\d+)\.xml$/.exec(req.url ?? "");
      if (!m || Number(m[2]) >= this.feeds) return void res.writeHead(404).end();
      if (this.held.has(m[1]!)) return void this.pending.push(() => res.writeHead(503).end());
      res.writeHead(200, { "content-type": "application/rss+xml" }).end(this.rss(Number(m[2]), this.revealed.get(m[1]!) ?? 0));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  urls(run: string): string[] {
    return Array.from({ length: this.feeds }, (_, f) => `${this.base}/${run}/f${f}.xml`);
  }

  /** From now on the feeds of `run` carry stories 0 … n-1. */
  reveal(run: string, n: number): void {
    this.revealed.set(run, n);
  }

  private rss(feed: number, stories: number): string {
    const key = `${feed}/${stories}`;
    const cached = this.bodies.get(key);
    if (cached) return cached;
    const items: string[] = [];
    for (let s = stories - 1; s >= 0; s--) {
      items.push(
        `<item><guid>o${feed}-s${s}</guid><title>Outlet ${feed}: headline ${s}</title><link>https://o${feed}.example/${s}</link>` +
          `<pubDate>${new Date(BASE_TIME + s * 60_000).toUTCString()}</pubDate>` +
          `<description>${article(s, this.words)} Read more at outlet ${feed}.</description></item>`,
      );
    }
    const body = `<?xml version="1.0"?><rss version="2.0"><channel><title>Outlet ${feed}</title><link>https://o${feed}.example/</link>${items.join("")}</channel></rss>`;
    this.bodies.set(key, body);
    return body;
  }

  /** The rows `rowsOf` should find once stories 0 … n-1 of every feed arrived: one story per seed. */
  expectedClusters(n: number): string[][] {
    return Array.from({ length: n }, (_, s) => Array.from({ length: this.feeds }, (_, f) => `f${f}|guid:o${f}-s${s}`).sort())
      .sort((a, b) => a[0]!.localeCompare(b[0]!) || a.join().localeCompare(b.join()));
  }
}

/** Items as (feed, identity, content hash) and stories as sets of (feed, identity), run-independent. */
export async function rowsOf(pool: pg.Pool): Promise<{ items: string[]; clusters: string[][] }> {
  const feedOf = (url: string) => `f${/\/f(\d+)\.xml$/.exec(url)?.[1] ?? url}`;
  const { rows: items } = await pool.query(
    `SELECT f.url, i.identity_key, i.content_hash FROM items i JOIN feeds f ON f.id = i.feed_id`,
  );
  const { rows: members } = await pool.query(
    `SELECT si.story_id::text AS story, f.url, i.identity_key FROM story_items si JOIN items i ON i.id = si.item_id JOIN feeds f ON f.id = i.feed_id`,
  );
  const byStory = new Map<string, string[]>();
  for (const m of members) byStory.set(m.story, [...(byStory.get(m.story) ?? []), `${feedOf(m.url)}|${m.identity_key}`]);
  return {
    items: items.map((r) => `${feedOf(r.url)}|${r.identity_key}|${r.content_hash}`).sort(),
    clusters: [...byStory.values()].map((c) => c.sort()).sort((a, b) => a[0]!.localeCompare(b[0]!) || a.join().localeCompare(b.join())),
  };
}

export const count = async (pool: pg.Pool, sql: string): Promise<number> => Number((await pool.query(sql)).rows[0].n);

/** Waits until `n` items are stored, each in a story. */
export async function waitForItems(pool: pg.Pool, n: number, timeout = 120_000): Promise<void> {
  await vi.waitFor(
    async () => {
      expect(await count(pool, "SELECT count(*) AS n FROM items")).toBe(n);
      expect(await count(pool, "SELECT count(*) AS n FROM items i WHERE NOT EXISTS (SELECT 1 FROM story_items si WHERE si.item_id = i.id)")).toBe(0);
    },
    { timeout, interval: 200 },
  );
}

/** The environment of a service or command against `dbUrl`, `redisUrl` and `prefix`: fast polling, no HTTP port. */
export function serviceEnv(dbUrl: string, redisUrl: string, prefix: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: dbUrl, REDIS_URL: redisUrl, NEWSFEED_REDIS_PREFIX: prefix,
    FETCH_ALLOW_PRIVATE: "127.0.0.1", FETCH_HOST_BUDGET_PER_MINUTE: "0",
    SCHEDULER_INTERVAL_MS: "200", POLL_MIN_INTERVAL_S: "1", POLL_DEFAULT_INTERVAL_S: "1", POLL_MAX_INTERVAL_S: "2",
    ANALYTICS_REFRESH_MINUTES: "0", NEWSFEED_SAMPLE: "false", NEWSFEED_HTTP_PORT: "0", LOG_LEVEL: "info",
    ...extra,
  };
}

/** A `newsfeed run <role>` subprocess. */
export class Service {
  readonly proc: ChildProcess;
  log = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(role: string, env: NodeJS.ProcessEnv) {
    this.proc = spawn(process.execPath, ["--import", TSX_LOADER, MAIN, "run", role], { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout!.on("data", (d: Buffer) => (this.log += d.toString()));
    this.proc.stderr!.on("data", (d: Buffer) => (this.log += d.toString()));
    this.exited = new Promise((r) => this.proc.once("exit", (code, signal) => r({ code, signal })));
  }

  /** Resolves once the services started (signal handlers in place). */
  async started(): Promise<this> {
    await vi.waitFor(
      () => {
        expect(this.proc.exitCode, this.log).toBeNull();
        expect(this.log).toContain("newsfeed services started");
      },
      { timeout: 60_000, interval: 100 },
    );
    return this;
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGTERM");
    const { code } = await this.exited;
    return code;
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }
}

/** Runs a CLI command to its end. */
export function newsfeed(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", TSX_LOADER, MAIN, ...args], { cwd: REPO, env: { ...env, LOG_LEVEL: "warn" }, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A redis-server of the test's own on a free port (so that FLUSHALL touches nobody else). */
export async function privateRedis(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  await vi.waitFor(() => expect(out).toContain("Ready to accept connections"), { timeout: 20_000, interval: 50 });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await done;
    },
  };
}

/**
 * Plumbing shared by `pnpm bench:chaos` and `pnpm bench:soak`: a private Postgres 15 cluster and a
 * private Redis (AOF on, as infra/redis.conf), services as child processes (`newsfeed run …`),
 * queue counts, process RSS, and cleanup at exit (also on Ctrl-C). Nothing here touches the
 * shared servers on 5432/6379: every port is a fresh free one.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, chownSync, writeFileSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { QUEUES, queuePrefix, type QueueName } from "@newsfeed/jobs";

export const REPO = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const PG_BIN = "/usr/lib/postgresql/15/bin";
const TSX_LOADER = join(REPO, "node_modules/tsx/dist/loader.mjs");
const MAIN = join(REPO, "packages/cli/src/main.ts");
const SHARED_PORTS = new Set([5432, 6379]);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const stamp = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s`;

/* ---------------------------------------------------------------- cleanup */

const cleanups: (() => void)[] = [];
let cleaned = false;
/** Registers a synchronous cleanup step, run once at exit (last registered first). */
export function atExit(fn: () => void): void {
  cleanups.push(fn);
}
export function cleanupNow(): void {
  if (cleaned) return;
  cleaned = true;
  for (const fn of cleanups.reverse()) {
    try {
      fn();
    } catch {
      /* best effort */
    }
  }
}
process.on("exit", cleanupNow);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping services and private servers…\n`);
    cleanupNow();
    process.exit(130);
  });
}

/** A TCP port that was free a moment ago, never 5432 or 6379. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.once("error", rej);
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    if (!SHARED_PORTS.has(port)) return port;
  }
}

function run(cmd: string, args: string[], opts: { asPostgres?: boolean; allowFail?: boolean } = {}): string {
  const asRoot = process.getuid?.() === 0;
  const [c, a] = opts.asPostgres && asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  const r = spawnSync(c, a, { encoding: "utf8" });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${(r.stderr || r.stdout || String(r.error)).trim().slice(-600)}`);
  }
  return `${r.stdout ?? ""}${r.stderr ?? ""}`;
}

/* ------------------------------------------------------- private Postgres */

export class PrivatePostgres {
  readonly dir: string;
  readonly data: string;
  port = 0;
  private running = false;
  constructor(label: string) {
    this.dir = mkdtempSync(`/tmp/${label}-pg-`);
    this.data = join(this.dir, "data");
    if (process.getuid?.() === 0) {
      const uid = Number(run("id", ["-u", "postgres"]).trim());
      const gid = Number(run("id", ["-g", "postgres"]).trim());
      chownSync(this.dir, uid, gid);
    }
    atExit(() => {
      if (this.running) run(`${PG_BIN}/pg_ctl`, ["-D", this.data, "-m", "immediate", "-w", "stop"], { asPostgres: true, allowFail: true });
      rmSync(this.dir, { recursive: true, force: true });
    });
  }
  async init(): Promise<void> {
    this.port = await freePort();
    run(`${PG_BIN}/initdb`, ["-D", this.data, "-A", "trust", "-U", "postgres", "--no-sync"], { asPostgres: true });
    await this.start();
  }
  async start(): Promise<void> {
    run(
      `${PG_BIN}/pg_ctl`,
      ["-D", this.data, "-w", "-t", "60", "-l", join(this.dir, "postgres.log"), "-o",
        `-p ${this.port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200`, "start"],
      { asPostgres: true },
    );
    this.running = true;
  }
  stop(): void {
    run(`${PG_BIN}/pg_ctl`, ["-D", this.data, "-m", "fast", "-w", "stop"], { asPostgres: true });
    this.running = false;
  }
  /** pg_ctl stop -m fast, `downMs` of outage, start again. */
  async restart(downMs: number): Promise<void> {
    this.stop();
    await sleep(downMs);
    await this.start();
  }
  url(db = "postgres"): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }
  async createDatabase(name: string): Promise<string> {
    const c = new pg.Client({ connectionString: this.url() });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    await c.end();
    return this.url(name);
  }
}

/* ---------------------------------------------------------- private Redis */

export class PrivateRedis {
  readonly dir: string;
  port = 0;
  private running = false;
  constructor(label: string) {
    this.dir = mkdtempSync(`/tmp/${label}-redis-`);
    atExit(() => {
      if (this.running) run("redis-cli", ["-p", String(this.port), "shutdown", "nosave"], { allowFail: true });
      rmSync(this.dir, { recursive: true, force: true });
    });
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    run("redis-server", [
      "--port", String(this.port), "--bind", "127.0.0.1", "--appendonly", "yes", "--appendfsync", "everysec",
      "--dir", this.dir, "--save", "", "--maxmemory-policy", "noeviction", "--daemonize", "yes",
      "--pidfile", join(this.dir, "redis.pid"), "--logfile", join(this.dir, "redis.log"),
    ]);
    this.running = true;
    for (let i = 0; i < 300; i++) {
      if (run("redis-cli", ["-p", String(this.port), "ping"], { allowFail: true }).includes("PONG")) return;
      await sleep(100);
    }
    throw new Error(`private redis on ${this.port} did not answer PING: see ${this.dir}/redis.log`);
  }
  /** SHUTDOWN (which writes the AOF), `downMs` of outage, start again on the same dir and port. */
  async restart(downMs: number): Promise<void> {
    run("redis-cli", ["-p", String(this.port), "shutdown"], { allowFail: true });
    for (let i = 0; i < 100 && run("redis-cli", ["-p", String(this.port), "ping"], { allowFail: true }).includes("PONG"); i++) await sleep(100);
    this.running = false;
    await sleep(downMs);
    await this.start();
  }
  stop(): void {
    run("redis-cli", ["-p", String(this.port), "shutdown", "nosave"], { allowFail: true });
    this.running = false;
  }
  /** Deletes everything in the private server (never used on a shared one). */
  async flush(): Promise<void> {
    const r = new Redis(this.url);
    await r.flushall();
    await r.quit();
  }
}

/* ---------------------------------------------------------- the services */

export type Role = "ingest" | "dedupe";

export interface UnexpectedExit {
  name: string;
  at: number;
  code: number | null;
  signal: string | null;
  lastLines: string[];
}

/** One `newsfeed run <role>` child process, restarted on demand; its output goes to a log file. */
export class ServiceProc {
  child?: ChildProcess;
  starts = 0;
  private expectExit = false;
  constructor(
    readonly name: string,
    readonly role: Role,
    private env: NodeJS.ProcessEnv,
    readonly logPath: string,
    private onUnexpected: (e: UnexpectedExit) => void,
  ) {
    writeFileSync(logPath, ""); // a log of this run only (a --seed repeated reuses the directory)
    atExit(() => {
      if (this.child?.pid && this.child.exitCode === null && this.child.signalCode === null) {
        try {
          process.kill(this.child.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
    });
  }
  get pid(): number | undefined {
    return this.alive ? this.child?.pid : undefined;
  }
  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }
  start(): void {
    const fd = openSync(this.logPath, "a");
    writeSync(fd, `\n==== start #${++this.starts} at ${new Date().toISOString()}\n`);
    this.expectExit = false;
    const child = spawn(process.execPath, ["--import", TSX_LOADER, MAIN, "run", this.role], {
      cwd: REPO, env: this.env, stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    this.child = child;
    child.on("exit", (code, signal) => {
      if (this.child !== child || this.expectExit) return;
      // The lines that say why: the error line of a crash (not its stack), else the last lines.
      const lines = tail(this.logPath, 80);
      const key = lines.filter((l) => /^(\w*Error|error|newsfeed):|Unhandled|^\s+code: /.test(l));
      this.onUnexpected({ name: this.name, at: Date.now(), code, signal, lastLines: key.length ? key.slice(-4) : lines.slice(-6) });
    });
  }
  /** SIGKILL, no warning. Resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    this.expectExit = true;
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGKILL");
    await gone;
  }
  /** SIGTERM (graceful), SIGKILL after `ms`. */
  async stop(ms = 15_000): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    this.expectExit = true;
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), ms);
    await gone;
    clearTimeout(t);
  }
}

export function tail(path: string, n: number): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").trimEnd().split("\n").filter((l) => !l.startsWith("====")).slice(-n).map((l) => l.slice(0, 400));
}

/** Environment of a service process on the private servers. */
export function serviceEnv(dbUrl: string, redisUrl: string, prefix: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl,
    NEWSFEED_REDIS_PREFIX: prefix,
    FETCH_ALLOW_PRIVATE: "127.0.0.1",
    NEWSFEED_HTTP_PORT: "0",
    LOG_LEVEL: "warn",
    SCHEDULER_INTERVAL_MS: "250",
    POLL_MIN_INTERVAL_S: "1",
    POLL_DEFAULT_INTERVAL_S: "1",
    POLL_MAX_INTERVAL_S: "3",
    FETCH_HOST_BUDGET_PER_MINUTE: "0",
    FETCH_TIMEOUT_MS: "10000",
    ANALYTICS_REFRESH_MINUTES: "0",
    SHUTDOWN_TIMEOUT_MS: "5000",
    ...extra,
  };
}

/** `newsfeed migrate` against `dbUrl`, as its own process. */
export function migrate(env: NodeJS.ProcessEnv): void {
  const r = spawnSync(process.execPath, ["--import", TSX_LOADER, MAIN, "migrate"], { cwd: REPO, env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`newsfeed migrate failed: ${r.stderr || r.stdout}`);
}

/* --------------------------------------------------------------- queues */

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  paused: number;
}

/** The newsfeed queues under a Redis key prefix, on a connection of their own. */
export class QueueProbe {
  readonly redis: Redis;
  private queues: Map<QueueName, Queue>;
  constructor(redisUrl: string, redisPrefix: string) {
    // Commands fail fast while Redis is down (the probe retries on its next turn).
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 200 });
    this.redis.on("error", () => {});
    const names = Object.values(QUEUES) as QueueName[];
    this.queues = new Map(names.map((n) => [n, new Queue(n, { connection: this.redis, prefix: queuePrefix(redisPrefix) })]));
  }
  async counts(): Promise<Record<QueueName, QueueCounts>> {
    const out = {} as Record<QueueName, QueueCounts>;
    for (const [name, q] of this.queues) {
      const c = await q.getJobCounts("waiting", "prioritized", "active", "delayed", "failed", "paused", "waiting-children");
      out[name] = {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c["waiting-children"] ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
        paused: c.paused ?? 0,
      };
    }
    return out;
  }
  async failedJobs(name: QueueName, limit = 20): Promise<{ id?: string; reason: string; attempts: number; items: number }[]> {
    const jobs = await this.queues.get(name)!.getJobs(["failed"], 0, limit - 1);
    return jobs.map((j) => ({
      id: j.id, reason: j.failedReason, attempts: j.attemptsMade,
      items: Array.isArray((j.data as { items?: unknown[] }).items) ? (j.data as { items: unknown[] }).items.length : 0,
    }));
  }
  async close(): Promise<void> {
    for (const q of this.queues.values()) await q.close().catch(() => {});
    this.redis.disconnect();
  }
}

/** Resident set size of a process, bytes (from /proc/<pid>/status VmRSS); null when gone. */
export function rssOf(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Counts of pino log messages (warn and above) in a log file, by "level msg". */
export function logSummary(path: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.startsWith("{")) {
      if (line.trim() && !line.startsWith("====")) out.set(`(raw) ${line.slice(0, 120)}`, (out.get(`(raw) ${line.slice(0, 120)}`) ?? 0) + 1);
      continue;
    }
    try {
      const j = JSON.parse(line) as { level?: number; msg?: string; err?: unknown };
      const lvl = j.level === 60 ? "fatal" : j.level === 50 ? "error" : j.level === 40 ? "warn" : String(j.level);
      const k = `${lvl} ${j.msg ?? ""}`;
      out.set(k, (out.get(k) ?? 0) + 1);
    } catch {
      /* partial line (SIGKILL mid-write) */
    }
  }
  return out;
}

export const MiB = (b: number) => b / 1048576;

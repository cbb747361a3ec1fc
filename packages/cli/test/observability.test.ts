/**
 * The service's HTTP endpoints on real Postgres and Redis (docs/observability.md): the
 * services of `run all` polling the bundled sample outlets served on 127.0.0.1, scraped
 * over HTTP; readiness with the schema behind, Redis stopped (a private redis-server on a
 * free port, never the shared one) and Postgres unreachable; draining at shutdown.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { pollFeed } from "@newsfeed/ingest";
import { addFeed, listFeeds } from "@newsfeed/store";
import { createTestDatabase, TEST_ADMIN_URL, type TestDatabase } from "@newsfeed/store/testing";
import { createLogger } from "../src/logger.ts";
import { createRuntime, startServices, type Runtime, type Services } from "../src/runtime.ts";
import { expectedClusters } from "../src/sample/outlets.ts";
import { startSampleServer, type SampleServer } from "../src/sample/server.ts";
import { cachedLoader, startServer, type ServiceServer } from "../src/server.ts";
import { dropRedisPrefix, roundDone, testConfig } from "./helpers.ts";

const run = promisify(execFile);
const silent = () => createLogger("silent", { pretty: false });

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with that name and (at least) those labels; undefined if none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${hits.length} samples`);
  return hits[0]?.value;
}

async function get(url: string): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

async function readyz(server: ServiceServer): Promise<{ status: number; body: any }> {
  const r = await get(`${server.url}/readyz`);
  return { status: r.status, body: JSON.parse(r.text) };
}

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe("the service endpoints of `run all`", () => {
  let t: TestDatabase;
  let sample: SampleServer;
  let rt: Runtime;
  let services: Services;
  let server: ServiceServer;
  const gold = expectedClusters();
  const copies = [...gold.values()].reduce((n, c) => n + c.length, 0);

  beforeAll(async () => {
    t = await createTestDatabase();
    sample = await startSampleServer(0);
    for (const url of sample.feedUrls) await addFeed(t.db, { url });
    await addFeed(t.db, { url: `${sample.baseUrl}/no-such-outlet/feed.xml` }); // 404: an error fetch
    rt = createRuntime(testConfig(t.url), silent());
    const since = new Date(Date.now() - 1000);
    services = await startServices(rt, "all", { httpPort: 0, httpHost: "127.0.0.1" });
    server = services.http!;
    await roundDone(rt, since);
  });

  afterAll(async () => {
    await rt?.close();
    await sample?.close();
    if (rt) await dropRedisPrefix(rt.config);
    await t?.drop();
  });

  it("listens on the ephemeral port startServices was given; with NEWSFEED_HTTP_PORT=0 and none given, on nothing", async () => {
    expect(rt.config.NEWSFEED_HTTP_PORT).toBe(0);
    expect(server.port).toBeGreaterThan(0);
    const other = createRuntime(testConfig(t.url), silent());
    try {
      expect((await startServices(other, "dedupe")).http).toBeUndefined();
    } finally {
      await other.close();
      await dropRedisPrefix(other.config);
    }
  });

  it("answers /healthz with 200", async () => {
    const r = await get(`${server.url}/healthz`);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    expect(JSON.parse(r.text)).toEqual({ status: "ok", draining: false });
    expect((await get(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/healthz`, { method: "POST" })).status).toBe(405);
  });

  it("answers /readyz with 200 when Postgres, Redis and the schema are fine", async () => {
    const r = await readyz(server);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      ready: true, status: "ready", failed: [],
      checks: { postgres: { ok: true }, redis: { ok: true }, schema: { ok: true } },
    });
  });

  it("serves every newsfeed_* family with the values of the round", async () => {
    // One more fetch, deferred: the sample's host is on hold (as after a Retry-After).
    const broken = (await listFeeds(t.db)).find((f) => f.url.includes("no-such-outlet"))!;
    await rt.pollDeps.hosts!.hold(broken.url, 60_000);
    expect((await pollFeed(rt.pollDeps, broken.id)).outcome).toBe("deferred");

    const r = await get(`${server.url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseMetrics(r.text);
    const outlets = sample.feedUrls.length;

    // Fetches: every outlet fetched once (2xx, ok), the missing one failed with a 4xx.
    expect(value(m, "newsfeed_fetches_total", { outcome: "ok", status_class: "2xx" })).toBe(outlets);
    expect(value(m, "newsfeed_fetches_total", { outcome: "error", status_class: "4xx" })).toBe(1);
    expect(value(m, "newsfeed_fetch_errors_total", { error_class: "http_status" })).toBe(1);
    expect(value(m, "newsfeed_fetch_duration_seconds_count", { outcome: "ok" })).toBe(outlets);
    expect(value(m, "newsfeed_fetch_duration_seconds_bucket", { outcome: "ok", le: "+Inf" })).toBe(outlets);
    expect(value(m, "newsfeed_fetch_duration_seconds_sum", { outcome: "ok" })).toBeGreaterThan(0);
    expect(value(m, "newsfeed_scheduled_fetches_total")).toBeGreaterThanOrEqual(outlets + 1);
    expect(value(m, "newsfeed_fetch_lag_seconds_count")).toBeGreaterThanOrEqual(outlets + 1);

    // Items: every copy was new; dedupe made one story per cluster and put the rest in them.
    expect(value(m, "newsfeed_items_ingested_total", { kind: "new" })).toBe(copies);
    expect(value(m, "newsfeed_items_ingested_total", { kind: "updated" })).toBe(0);
    expect(value(m, "newsfeed_items_stored_total", { kind: "inserted" })).toBe(copies);
    const newStory = value(m, "newsfeed_dedupe_decisions_total", { decision: "new_story" })!;
    const joined = value(m, "newsfeed_dedupe_decisions_total", { decision: "joined" })!;
    const merged = value(m, "newsfeed_dedupe_decisions_total", { decision: "merged" })!;
    expect(newStory + joined).toBe(copies);
    expect(newStory - merged).toBe(gold.size);
    expect(joined).toBeGreaterThan(0);

    // Jobs: every fetch job and at least one items job timed; the queues are idle.
    expect(value(m, "newsfeed_job_duration_seconds_count", { queue: "fetch" })).toBe(outlets + 1);
    expect(value(m, "newsfeed_job_duration_seconds_count", { queue: "items" })).toBeGreaterThanOrEqual(1);
    for (const queue of ["fetch", "items"]) {
      for (const state of ["waiting", "active", "delayed", "failed"]) {
        expect(value(m, "newsfeed_queue_jobs", { queue, state }), `${queue} ${state}`).toBe(0);
      }
    }
    expect(value(m, "newsfeed_queue_jobs", { queue: "fetch", state: "completed" })).toBe(outlets + 1);
    expect(value(m, "newsfeed_collector_up", { collector: "queues" })).toBe(1);
    expect(value(m, "newsfeed_collector_up", { collector: "feeds" })).toBe(1);

    // Feeds by state, the per-host deferral, the process metrics.
    expect(value(m, "newsfeed_feeds", { state: "active" })).toBe(outlets + 1);
    expect(value(m, "newsfeed_feeds", { state: "paused" })).toBe(0);
    expect(value(m, "newsfeed_feeds", { state: "gone" })).toBe(0);
    expect(value(m, "newsfeed_host_deferrals_total", { reason: "hold" })).toBeGreaterThanOrEqual(1);
    expect(value(m, "newsfeed_host_deferrals_total", { reason: "budget" })).toBe(0);
    expect(value(m, "newsfeed_process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(value(m, "newsfeed_process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(value(m, "newsfeed_nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);

    // Every family is newsfeed_*, and declared once.
    const families = [...r.text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => x[1]!);
    expect(families.filter((f) => !f.startsWith("newsfeed_"))).toEqual([]);
    expect(new Set(families).size).toBe(families.length);
  });

  it("answers /readyz with 503 naming the schema while the schema is behind", async () => {
    const { rows } = await t.pool.query(`DELETE FROM drizzle.__drizzle_migrations WHERE id = (SELECT max(id) FROM drizzle.__drizzle_migrations) RETURNING *`);
    try {
      const r = await readyz(server);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ ready: false, status: "not_ready", failed: ["schema"] });
      expect(r.body.checks.schema.error).toMatch(/schema is behind: \d+ of \d+ migrations applied/);
      expect(r.body.checks.postgres.ok).toBe(true);
    } finally {
      const row = rows[0];
      await t.pool.query(`INSERT INTO drizzle.__drizzle_migrations (id, hash, created_at) VALUES ($1, $2, $3)`, [row.id, row.hash, row.created_at]);
    }
    expect((await readyz(server)).status).toBe(200);
  });

  it("answers /readyz with 503 from the first step of the shutdown, and closes with the runtime", async () => {
    const scrape = await get(`${server.url}/metrics`);
    expect(scrape.status).toBe(200);
    const closed = rt.close();
    await vi.waitFor(() => expect(server.isDraining).toBe(true));
    await closed;
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe("/readyz without Redis", () => {
  let t: TestDatabase;
  let rt: Runtime | undefined;
  let port: number;
  const dir = tmpdir();
  const pidFile = () => join(dir, `nf-observability-redis-${port}.pid`);
  const startRedis = () =>
    run("redis-server", [
      "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--daemonize", "yes", "--pidfile", pidFile(), "--dir", dir, "--logfile", "",
    ]);
  const stopRedis = () => run("redis-cli", ["-p", String(port), "shutdown", "nosave"]).catch(() => undefined);

  beforeAll(async () => {
    t = await createTestDatabase();
    port = await freePort();
    await startRedis();
    await vi.waitFor(async () => expect((await run("redis-cli", ["-p", String(port), "ping"])).stdout.trim()).toBe("PONG"));
  });

  afterAll(async () => {
    if (rt) {
      // A runtime closes against a live Redis: start ours again should a failed test have left it down.
      const up = await run("redis-cli", ["-p", String(port), "ping"]).then((r) => r.stdout.trim() === "PONG", () => false);
      if (!up) await startRedis().catch(() => undefined);
      await rt.close();
    }
    // Only the redis-server this file started, by its pid file.
    try {
      process.kill(Number(readFileSync(pidFile(), "utf8").trim()), "SIGTERM");
    } catch {
      /* already stopped */
    }
    await t?.drop();
  });

  it("turns 503 naming redis while Redis is down, and 200 again once it is back", async () => {
    rt = createRuntime(testConfig(t.url, { REDIS_URL: `redis://127.0.0.1:${port}` }), silent());
    const { http } = await startServices(rt, "dedupe", { httpPort: 0, httpHost: "127.0.0.1" });
    await vi.waitFor(async () => expect((await readyz(http!)).status).toBe(200));

    await stopRedis();
    await vi.waitFor(
      async () => {
        const r = await readyz(http!);
        expect(r.status).toBe(503);
        expect(r.body).toMatchObject({ ready: false, failed: ["redis"], checks: { postgres: { ok: true }, schema: { ok: true } } });
        expect(r.body.checks.redis.error).toEqual(expect.any(String));
      },
      { timeout: 10_000, interval: 100 },
    );
    // A scrape still answers, without the queue counts it cannot get.
    const m = parseMetrics((await get(`${http!.url}/metrics`)).text);
    expect(value(m, "newsfeed_collector_up", { collector: "queues" })).toBe(0);
    expect(value(m, "newsfeed_queue_jobs", { queue: "fetch", state: "waiting" })).toBeUndefined();

    await startRedis();
    await vi.waitFor(async () => expect((await readyz(http!)).status).toBe(200), { timeout: 15_000, interval: 100 });
    await rt.close();
    rt = undefined;
  });
});

describe("/readyz against a database that is behind or gone", () => {
  const name = `nf_obs_empty_${Date.now().toString(36)}`;
  const url = (() => {
    const u = new URL(TEST_ADMIN_URL);
    u.pathname = `/${name}`;
    return u.toString();
  })();
  const runtimes: Runtime[] = [];
  const servers: ServiceServer[] = [];

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    await admin.end();
  });

  afterAll(async () => {
    for (const s of servers) await s.close();
    for (const r of runtimes) await r.close();
    for (const r of runtimes) await dropRedisPrefix(r.config);
    const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
  });

  const serve = async (rt: Runtime) => {
    runtimes.push(rt);
    const s = await startServer(
      { pool: rt.db.pool, redis: rt.redis, queues: [rt.fetchQueue, rt.itemsQueue], logger: rt.logger },
      { port: 0, host: "127.0.0.1", checkTimeoutMs: 1_000 },
    );
    servers.push(s);
    return s;
  };

  it("refuses to start services on a database without migrations; its /readyz names the schema", async () => {
    const rt = createRuntime(testConfig(url), silent());
    await expect(startServices(rt, "all", { httpPort: 0 })).rejects.toThrow(/schema is behind \(0 of \d+ migrations applied\)/);
    const s = await serve(rt);
    await vi.waitFor(async () => {
      const r = await readyz(s);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ failed: ["schema"], checks: { postgres: { ok: true }, redis: { ok: true } } });
      expect(r.body.checks.schema.error).toMatch(/schema is behind: 0 of \d+ migrations applied/);
    });
  });

  it("names postgres (and the schema it cannot read) when Postgres does not answer", async () => {
    const closed = await freePort();
    const rt = createRuntime(testConfig(`postgres://postgres@127.0.0.1:${closed}/nowhere`), silent());
    const s = await serve(rt);
    await vi.waitFor(async () => {
      const r = await readyz(s);
      expect(r.status).toBe(503);
      expect(r.body.failed).toEqual(["postgres", "schema"]); // Redis connected: only these two fail
      expect(r.body.checks.postgres.error).toMatch(/ECONNREFUSED|connect/);
    });
    // The process is still alive.
    expect((await get(`${s.url}/healthz`)).status).toBe(200);
    s.draining();
    expect((await readyz(s)).body).toEqual({ ready: false, status: "draining", failed: ["draining"], checks: {} });
  });
});

describe("cachedLoader", () => {
  it("reuses a result for its ttl, shares a slow load, and gives up on it after the timeout", async () => {
    let calls = 0;
    let release: (n: number) => void = () => {};
    const errors: unknown[] = [];
    const load = cachedLoader(
      () => {
        calls++;
        return new Promise<number>((resolve) => (release = resolve));
      },
      60_000, 50, (err) => errors.push(err),
    );
    expect(await Promise.all([load(), load()])).toEqual([undefined, undefined]); // both timed out on one load
    expect(calls).toBe(1);
    expect(errors).toHaveLength(2);
    const next = load(); // the first load still runs: shared, not restarted
    release(7);
    expect(await next).toBe(7);
    expect(await load()).toBe(7); // cached
    expect(calls).toBe(1);
  });
});

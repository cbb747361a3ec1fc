/** `newsfeed config` as an operator runs it: no secret printed, --json parses, each setting's source. */
import { describe, expect, it } from "vitest";
import { envSchema } from "../src/config.ts";
import { runCli } from "./helpers.ts";

const PASSWORD = "Tr0ub4dor-and-3";
// Only the settings given here come from the environment: every other one is removed from it.
const unset = Object.fromEntries(Object.keys(envSchema.shape).map((k) => [k, undefined]));
const config = (args: string[], env: Record<string, string>) => runCli(["config", ...args], { ...unset, ...env });

describe.concurrent("newsfeed config", { timeout: 120_000 }, () => {
  const env = {
    REDIS_URL: `redis://default:${PASSWORD}@redis.internal:6379/0`,
    DATABASE_URL: `postgres://newsfeed:${PASSWORD}@db.internal:5432/newsfeed`,
    INGEST_CONCURRENCY: "32",
    LOG_LEVEL: "warn",
  };

  it("prints every setting with its value and source, the passwords redacted", async () => {
    const r = await config([], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).not.toContain(PASSWORD);
    expect(r.stdout).toMatch(/^SETTING\s+VALUE\s+SOURCE$/m);
    expect(r.stdout).toMatch(/^REDIS_URL\s+redis:\/\/default:\*\*\*@redis\.internal:6379\/0\s+env$/m);
    expect(r.stdout).toMatch(/^DATABASE_URL\s+postgres:\/\/newsfeed:\*\*\*@db\.internal:5432\/newsfeed\s+env$/m);
    expect(r.stdout).toMatch(/^INGEST_CONCURRENCY\s+32\s+env$/m);
    expect(r.stdout).toMatch(/^DEDUPE_CONCURRENCY\s+4\s+default$/m);
    expect(r.stdout).toMatch(/^FETCH_ALLOW_PRIVATE\s+\(empty\)\s+default$/m);
    for (const name of Object.keys(envSchema.shape)) expect(r.stdout).toMatch(new RegExp(`^${name}\\s`, "m"));
  });

  it("--json gives one object: every setting with value, source and default", async () => {
    const r = await config(["--json"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(PASSWORD);
    const out = JSON.parse(r.stdout) as Record<string, { value: unknown; source: string; default: unknown }>;
    expect(Object.keys(out)).toEqual(Object.keys(envSchema.shape));
    expect(out.REDIS_URL).toEqual({ value: "redis://default:***@redis.internal:6379/0", source: "env", default: "redis://127.0.0.1:6379" });
    expect(out.INGEST_CONCURRENCY).toEqual({ value: 32, source: "env", default: 16 });
    expect(out.LOG_LEVEL).toEqual({ value: "warn", source: "env", default: "info" });
    expect(out.DEDUPE_CONCURRENCY).toEqual({ value: 4, source: "default", default: 4 });
    expect(out.NEWSFEED_SAMPLE).toEqual({ value: true, source: "default", default: true });
    const fromEnv = Object.entries(out).filter(([, s]) => s.source === "env").map(([k]) => k);
    expect(fromEnv.sort()).toEqual(Object.keys(env).sort());
  });

  it("stops on an invalid value with one line naming the setting, no password in it", async () => {
    const r = await config([], { ...env, REDIS_URL: `redis://default:${PASSWORD} x@redis:port` });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^newsfeed: invalid REDIS_URL=/);
    expect(r.stderr).not.toContain(PASSWORD);
  });

  it("prints help with examples and exits 0", async () => {
    const r = await config(["--help"], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: newsfeed config/);
    expect(r.stdout).toMatch(/pnpm --silent newsfeed config --json/);
  });
});

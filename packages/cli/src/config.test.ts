import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, configDefaults, describeConfig, envSchema, loadConfig, redactSetting } from "./config.ts";

describe("loadConfig", () => {
  it.each([
    { env: {}, key: "DEDUPE_WINDOW_HOURS", want: 72 },
    { env: { DEDUPE_WINDOW_HOURS: "24" }, key: "DEDUPE_WINDOW_HOURS", want: 24 },
    { env: { NEWSFEED_SAMPLE: "false" }, key: "NEWSFEED_SAMPLE", want: false },
    { env: { NEWSFEED_SAMPLE: "0" }, key: "NEWSFEED_SAMPLE", want: false },
    { env: { NEWSFEED_SAMPLE: "yes" }, key: "NEWSFEED_SAMPLE", want: true },
  ])("$env → $key = $want", ({ env, key, want }) => {
    expect(loadConfig(env)[key as keyof ReturnType<typeof loadConfig>]).toBe(want);
  });
  it.each([
    { env: { DEDUPE_MIN_CONTAINMENT: "1.5" }, name: "DEDUPE_MIN_CONTAINMENT" },
    { env: { INGEST_CONCURRENCY: "0" }, name: "INGEST_CONCURRENCY" },
    { env: { NEWSFEED_SAMPLE: "maybe" }, name: "NEWSFEED_SAMPLE" },
    { env: { DATABASE_URL: "not a url" }, name: "DATABASE_URL" },
    { env: { LOG_LEVEL: "loud" }, name: "LOG_LEVEL" },
  ])("rejects $env in one line naming $name", ({ env, name }) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^invalid ${name}=`));
  });
});

describe("README configuration table", () => {
  it("lists every setting with its default", () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    const rows = new Map(
      // An empty default is written "(empty)".
      [...readme.matchAll(/^\| `([A-Z_]+)` \| (?:`([^`]*)`|\(empty\)) \|/gm)].map((m) => [m[1]!, m[2] ?? ""]),
    );
    const defaults = Object.entries(configDefaults()).map(([k, v]) => [k, String(v)]);
    expect(Object.fromEntries([...rows].filter(([k]) => k in configDefaults()))).toEqual(Object.fromEntries(defaults));
  });
});

describe("redactSetting", () => {
  it.each([
    { name: "DATABASE_URL", value: "postgres://nf:hunter2@db:5432/newsfeed", want: "postgres://nf:***@db:5432/newsfeed" },
    { name: "DATABASE_URL", value: "postgres://postgres@127.0.0.1:5432/newsfeed", want: "postgres://postgres@127.0.0.1:5432/newsfeed" },
    { name: "DATABASE_URL", value: "postgres://nf@db/newsfeed?sslmode=require&password=hunter2", want: "postgres://nf@db/newsfeed?sslmode=require&password=***" },
    { name: "REDIS_URL", value: "redis://default:hunter2@redis:6379/0", want: "redis://default:***@redis:6379/0" },
    { name: "REDIS_URL", value: "rediss://:hunter2@redis:6380", want: "rediss://:***@redis:6380" },
    { name: "REDIS_URL", value: "redis://127.0.0.1:6379", want: "redis://127.0.0.1:6379" },
    // Not readable as a URL: nothing of it is shown.
    { name: "REDIS_URL", value: "redis://u:hunter 2@h:x", want: "***" },
    { name: "SMTP_PASSWORD", value: "hunter2", want: "***" },
    { name: "API_TOKEN", value: "abc", want: "***" },
    { name: "WEBHOOK_SECRET", value: "abc", want: "***" },
    { name: "LICENSE_KEY", value: "abc", want: "***" },
    { name: "API_TOKEN", value: "", want: "" },
    { name: "USER_AGENT", value: "newsfeed/0.1", want: "newsfeed/0.1" },
    { name: "INGEST_CONCURRENCY", value: 16, want: 16 },
    { name: "NEWSFEED_SAMPLE", value: false, want: false },
  ])("$name=$value → $want", ({ name, value, want }) => {
    expect(redactSetting(name, value)).toEqual(want);
  });
});

describe("describeConfig", () => {
  it.each([
    { env: {}, name: "INGEST_CONCURRENCY", want: { value: 16, source: "default", default: 16 } },
    { env: { INGEST_CONCURRENCY: "32" }, name: "INGEST_CONCURRENCY", want: { value: 32, source: "env", default: 16 } },
    // Set, even to its default or to nothing, is set by the environment.
    { env: { INGEST_CONCURRENCY: "16" }, name: "INGEST_CONCURRENCY", want: { value: 16, source: "env", default: 16 } },
    { env: { FETCH_ALLOW_PRIVATE: "" }, name: "FETCH_ALLOW_PRIVATE", want: { value: "", source: "env", default: "" } },
    { env: { NEWSFEED_SAMPLE: "no" }, name: "NEWSFEED_SAMPLE", want: { value: false, source: "env", default: true } },
    {
      env: { REDIS_URL: "redis://default:hunter2@redis:6379" }, name: "REDIS_URL",
      want: { value: "redis://default:***@redis:6379", source: "env", default: "redis://127.0.0.1:6379" },
    },
    {
      env: { DATABASE_URL: "postgres://nf:hunter2@db/newsfeed" }, name: "DATABASE_URL",
      want: { value: "postgres://nf:***@db/newsfeed", source: "env", default: "postgres://postgres@127.0.0.1:5432/newsfeed" },
    },
  ])("$env → $name", ({ env, name, want }) => {
    expect(describeConfig(env).find((s) => s.name === name)).toEqual({ name, ...want });
  });

  it("lists every setting of the schema, in its order", () => {
    expect(describeConfig({}).map((s) => s.name)).toEqual(Object.keys(envSchema.shape));
  });

  it("stops on an invalid value with one line naming the setting, its secrets redacted", () => {
    expect(() => describeConfig({ DEDUPE_WINDOW_HOURS: "soon" })).toThrow(/^invalid DEDUPE_WINDOW_HOURS="soon": /);
    expect(() => describeConfig({ REDIS_URL: "redis://u:hunter 2@h:x" })).toThrow(/^invalid REDIS_URL="\*\*\*": /);
  });
});

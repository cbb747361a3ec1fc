import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, configDefaults, loadConfig } from "./config.ts";

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

/**
 * The process's configuration: every setting, its environment variable and its
 * default, read once at the process edge through one zod schema.
 */
import { z } from "zod";
import { createAddressPolicy } from "@newsfeed/ingest";
import { redactUrl } from "@newsfeed/store";

/** "a, b,,c" → ["a", "b", "c"]. */
export const splitList = (v: string): string[] => v.split(",").map((p) => p.trim()).filter(Boolean);

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .default(def ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");

export const envSchema = z.object({
  DATABASE_URL: z.string().url().default("postgres://postgres@127.0.0.1:5432/newsfeed"),
  REDIS_URL: z.string().url().default("redis://127.0.0.1:6379"),
  /** Prefix of every Redis key newsfeed writes (queues and the dedupe index). */
  NEWSFEED_REDIS_PREFIX: z.string().min(1).default("newsfeed"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Port of the service's HTTP endpoints (/healthz, /readyz, /metrics); 0: none. */
  NEWSFEED_HTTP_PORT: z.coerce.number().int().min(0).max(65_535).default(9464),
  /** On SIGTERM, how long jobs in hand may take to finish before the process gives up on them. */
  SHUTDOWN_TIMEOUT_MS: int(25_000, 0),
  INGEST_CONCURRENCY: int(16, 1),
  DEDUPE_CONCURRENCY: int(4, 1),
  SCHEDULER_INTERVAL_MS: int(1_000, 100),
  FETCH_TIMEOUT_MS: int(30_000, 100),
  FETCH_MAX_BYTES: int(10 * 1024 * 1024, 1024),
  USER_AGENT: z.string().min(1).default("newsfeed/0.1 (news feed aggregator)"),
  FETCH_CONNECT_TIMEOUT_MS: int(10_000, 100),
  FETCH_MAX_REDIRECTS: int(5, 0),
  /**
   * Private, loopback and link-local addresses feeds may resolve to: IPs or CIDRs, comma-separated,
   * or "*" (no guard). Empty: every non-public address is refused.
   */
  FETCH_ALLOW_PRIVATE: z
    .string()
    .default("")
    .superRefine((v, ctx) => {
      try {
        createAddressPolicy(splitList(v));
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message.replace(/^allowPrivate: /, "") });
      }
    }),
  /** Fetch history (status, timings, archived bodies) older than this is deleted (0: kept forever). */
  FETCH_RETENTION_DAYS: int(90, 0),
  /** A fetch without validators every this many hours catches servers that ignore them. */
  FETCH_FORCE_INTERVAL_H: int(12, 1),
  /** Fetches per minute per host (host:port), shared by all ingest workers (0: no limit). */
  FETCH_HOST_BUDGET_PER_MINUTE: int(60, 0),
  /** Per-host budgets: "host=fetches_per_minute,host:port=…". */
  FETCH_HOST_BUDGETS: z
    .string()
    .default("")
    .refine((v) => v.split(",").every((p) => !p.trim() || /^[^=\s]+=\d+$/.test(p.trim())), "expected host=fetches_per_minute,…"),
  /** The ingest service refreshes the analytics rollups this often, in minutes (0: never). */
  ANALYTICS_REFRESH_MINUTES: int(15, 0),
  POLL_MIN_INTERVAL_S: int(300, 1),
  POLL_MAX_INTERVAL_S: int(86_400, 1),
  POLL_DEFAULT_INTERVAL_S: int(1_800, 1),
  DEDUPE_WINDOW_HOURS: int(72, 1),
  DEDUPE_MIN_CONTAINMENT: z.coerce.number().min(0.05).max(1).default(0.35),
  DEDUPE_MAX_NUMBER_MISMATCHES: int(2, 0),
  DEDUPE_MERGE_CONTAINMENT: z.coerce.number().min(0.05).max(1).default(0.5),
  DEDUPE_SHINGLE_SIZE: int(5, 1).pipe(z.number().max(8)),
  DEDUPE_CHROME_MIN_ITEMS: int(3, 0),
  /** Serve and poll the bundled sample feeds when no feeds are configured (`newsfeed start`). */
  NEWSFEED_SAMPLE: bool(true),
  /** Port of the bundled sample's local HTTP server (127.0.0.1). */
  NEWSFEED_SAMPLE_PORT: int(8089, 1).pipe(z.number().max(65535)),
});

export type Config = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses the environment; an invalid value throws one line naming the setting (its value with secrets redacted). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const res = envSchema.safeParse(env);
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  const name = String(issue.path[0] ?? "environment");
  throw new ConfigError(`invalid ${name}=${JSON.stringify(redactSetting(name, env[name] ?? ""))}: ${issue.message}`);
}

/** The variables of the schema with their defaults, for docs and `--help`. */
export function configDefaults(): Record<string, unknown> {
  return envSchema.parse({});
}

/** A setting whose name says it holds a secret is never shown. */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|KEY/;
/** Nor is a URL's query parameter whose name says so (postgres://…?password=…). */
const SECRET_PARAM = /pass|secret|token|key/i;

/**
 * A setting's value as it may be shown: a secret-named setting's value becomes "***",
 * a URL's password "user:***@" (and secret-named query parameters "***"); other values,
 * and empty ones, are returned as they are.
 */
export function redactSetting(name: string, value: unknown): unknown {
  if (typeof value !== "string" || value === "") return value;
  if (SECRET_NAME.test(name)) return "***";
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return "***"; // not readable as a URL: what in it is a password cannot be told
  }
  const params = [...u.searchParams.keys()].filter((k) => SECRET_PARAM.test(k));
  if (!u.password && params.length === 0) return value;
  u = new URL(redactUrl(value));
  for (const k of params) u.searchParams.set(k, "***");
  return u.toString();
}

/** One setting as `newsfeed config` shows it. */
export interface SettingDescription {
  name: string;
  /** The effective value, secrets redacted. */
  value: unknown;
  /** Where the value came from: the environment, or the schema's default. */
  source: "env" | "default";
  /** The schema's default, redacted likewise. */
  default: unknown;
}

/**
 * Every setting of the schema, in its order, with its effective value (secrets redacted)
 * and where it came from. An invalid value throws ConfigError, as loadConfig does.
 */
export function describeConfig(env: NodeJS.ProcessEnv = process.env): SettingDescription[] {
  const config = loadConfig(env) as Record<string, unknown>;
  const defaults = configDefaults();
  return Object.keys(envSchema.shape).map((name) => ({
    name,
    value: redactSetting(name, config[name]),
    source: env[name] === undefined ? "default" : "env",
    default: redactSetting(name, defaults[name]),
  }));
}

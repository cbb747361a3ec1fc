import type { Redis } from "ioredis";
import { hostDeferrals } from "./metrics.ts";

/**
 * Per-host politeness shared by every ingest worker through Redis: a budget of
 * fetches per minute per host (host:port), with per-host overrides, and holds
 * set when a host answers 429/503 with Retry-After. Being over budget or on hold
 * defers a fetch; it is not an error.
 *
 * Keys (under the prefix P): P hold:<host> (a TTL of the Retry-After),
 * P budget:<host>:<minute> (a counter that lives two minutes). The budget is a
 * fixed window per clock minute: at most `perMinute` fetches start in any minute.
 */
const ACQUIRE_LUA = `
local prefix, host, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local hold = redis.call('PTTL', prefix .. 'hold:' .. host)
if hold > 0 then return { 0, hold, 'hold' } end
local minute = math.floor(now / 60000)
local key = prefix .. 'budget:' .. host .. ':' .. minute
local n = redis.call('INCR', key)
if n == 1 then redis.call('PEXPIRE', key, 120000) end
if n > limit then return { 0, (minute + 1) * 60000 - now, 'budget' } end
return { 1, 0, '' }
`;

export interface HostPolicy {
  /** Fetches per minute per host unless overridden (0: no limit). */
  perMinute: number;
  /** host (or host:port) → fetches per minute. */
  overrides?: ReadonlyMap<string, number>;
}

export type GateResult = { ok: true } | { ok: false; waitMs: number; reason: "budget" | "hold" };

type AcquireFn = (...args: (string | number)[]) => Promise<[number, number, string]>;

/** The host:port key of a URL (lower case; the port only when it is not the scheme's default). */
export function hostKey(url: string): string {
  return new URL(url).host.toLowerCase();
}

/** Parses "host=60,other.example:8080=600" into overrides; throws on a malformed entry. */
export function parseHostBudgets(spec: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)=(\d+)$/.exec(part);
    if (!m) throw new Error(`expected host=fetches_per_minute, got "${part}"`);
    out.set(m[1]!.toLowerCase(), Number(m[2]));
  }
  return out;
}

export class HostGate {
  private readonly acquireFn: AcquireFn;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly policy: HostPolicy,
  ) {
    if (!(redis as unknown as Record<string, unknown>).nfHostAcquire) {
      redis.defineCommand("nfHostAcquire", { numberOfKeys: 0, lua: ACQUIRE_LUA });
    }
    this.acquireFn = (redis as unknown as { nfHostAcquire: AcquireFn }).nfHostAcquire.bind(redis);
  }

  /** The budget that applies to a host: its override (host:port, then host), else the default. */
  limitFor(host: string): number {
    const o = this.policy.overrides;
    return o?.get(host) ?? o?.get(host.replace(/:\d+$/, "")) ?? this.policy.perMinute;
  }

  /** Takes one fetch from the host's budget, or says how long to wait. */
  async acquire(url: string, now = Date.now()): Promise<GateResult> {
    const host = hostKey(url);
    const limit = this.limitFor(host);
    const [ok, waitMs, reason] = await this.acquireFn(this.prefix, host, now, limit > 0 ? limit : 2 ** 52);
    if (ok === 1) return { ok: true };
    hostDeferrals.inc({ reason });
    return { ok: false, waitMs: Math.max(1, waitMs), reason: reason as "budget" | "hold" };
  }

  /** Holds every fetch to the URL's host for `ms` (a Retry-After); a longer hold already set stays. */
  async hold(url: string, ms: number): Promise<void> {
    if (ms <= 0) return;
    const key = `${this.prefix}hold:${hostKey(url)}`;
    const current = await this.redis.pttl(key);
    if (current < ms) await this.redis.set(key, "1", "PX", Math.ceil(ms));
  }
}

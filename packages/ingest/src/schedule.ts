/** Next-check arithmetic for feeds. Pure: the clock and the randomness are arguments. */

export interface ScheduleOptions {
  minIntervalMs: number;
  maxIntervalMs: number;
  /** Interval for a feed whose item rate is unknown. */
  defaultIntervalMs: number;
  /** ± fraction of the interval added at random (0.1 = ±10%). */
  jitter: number;
}

export const DEFAULT_SCHEDULE: ScheduleOptions = {
  minIntervalMs: 5 * 60_000,
  maxIntervalMs: 24 * 3600_000,
  defaultIntervalMs: 30 * 60_000,
  jitter: 0.1,
};

export interface ScheduleInput {
  now: Date;
  /** Consecutive failed fetches (0 after a success). */
  errorCount: number;
  /** Recent new items per day, when known. */
  itemsPerDay?: number | null;
  /**
   * The soonest the publisher allows a new fetch (RSS <ttl>, Cache-Control max-age,
   * Expires, Retry-After), in ms from now; capped at the maximum interval.
   */
  notBeforeMs?: number | null;
  /** A uniform random number in [0, 1). */
  random: number;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/**
 * The base interval before jitter: on success, about one new item per poll
 * (24 h / items per day); after n consecutive errors, min × 2^n; both clamped to [min, max].
 */
export function baseInterval(input: Pick<ScheduleInput, "errorCount" | "itemsPerDay">, opts: ScheduleOptions): number {
  if (input.errorCount > 0) {
    const growth = opts.minIntervalMs * 2 ** Math.min(input.errorCount, 30);
    return clamp(growth, opts.minIntervalMs, opts.maxIntervalMs);
  }
  if (input.itemsPerDay != null && input.itemsPerDay > 0) {
    return clamp(86_400_000 / input.itemsPerDay, opts.minIntervalMs, opts.maxIntervalMs);
  }
  if (input.itemsPerDay === 0) return opts.maxIntervalMs;
  return clamp(opts.defaultIntervalMs, opts.minIntervalMs, opts.maxIntervalMs);
}

/**
 * When to check a feed next: the base interval with ± jitter, never below the
 * minimum, and never sooner than the publisher allows (capped at the maximum);
 * a publisher floor gets upward jitter only, so feeds that share it still spread.
 */
export function nextCheckAt(input: ScheduleInput, opts: ScheduleOptions = DEFAULT_SCHEDULE): Date {
  const base = baseInterval(input, opts);
  const floor = Math.min(Math.max(0, input.notBeforeMs ?? 0), opts.maxIntervalMs);
  let ms = Math.max(opts.minIntervalMs, Math.round(base * (1 + opts.jitter * (2 * input.random - 1))));
  if (ms < floor) ms = Math.round(floor * (1 + opts.jitter * input.random));
  return new Date(input.now.getTime() + ms);
}

/** Time constant of the item-rate average: fetches older than this weigh little. */
export const RATE_TIME_CONSTANT_MS = 3 * 86_400_000;

/**
 * The feed's new-items-per-day estimate after a fetch that found `newItems` new
 * items `elapsedMs` after the previous one: an exponential moving average in time
 * (a fetch's weight grows with the time it covers). The first fetch of a feed
 * returns its backlog, not its rate, and leaves the estimate unknown.
 */
export function updateItemRate(prev: number | null, newItems: number, elapsedMs: number | null): number | null {
  if (elapsedMs == null) return prev;
  const dt = Math.max(60_000, elapsedMs);
  const sample = (newItems * 86_400_000) / dt;
  if (prev == null) return sample;
  const w = 1 - Math.exp(-dt / RATE_TIME_CONSTANT_MS);
  return prev + w * (sample - prev);
}

/** Seconds in an RSS <ttl> (minutes) of the channel, when it has one. */
export function rssTtlMs(text: string): number | null {
  const m = /<ttl>\s*(\d{1,7})\s*<\/ttl>/i.exec(text.slice(0, 65_536));
  return m ? Number(m[1]) * 60_000 : null;
}

/** How long the response says it stays fresh: Cache-Control max-age (s-maxage), else Expires. */
export function freshnessMs(headers: Headers, now: Date): number | null {
  const cc = headers.get("cache-control");
  if (cc) {
    if (/(?:^|,)\s*(?:no-store|no-cache)\b/i.test(cc)) return null;
    const m = /(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*"?(\d+)/i.exec(cc);
    if (m) return Number(m[1]) * 1000;
  }
  const expires = headers.get("expires");
  // An HTTP date names its month; "0" and "-1" (meaning "already expired") do not parse as one.
  if (expires && /[a-z]{3}/i.test(expires)) {
    const t = Date.parse(expires);
    if (!Number.isNaN(t)) return Math.max(0, t - now.getTime());
  }
  return null;
}

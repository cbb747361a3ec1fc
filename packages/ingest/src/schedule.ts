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
  /** A uniform random number in [0, 1). */
  random: number;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** The base interval before jitter: item rate on success, capped exponential backoff on errors. */
export function baseInterval(input: Omit<ScheduleInput, "now" | "random">, opts: ScheduleOptions): number {
  if (input.errorCount > 0) {
    const growth = opts.minIntervalMs * 2 ** Math.min(input.errorCount, 30);
    return clamp(growth, opts.minIntervalMs, opts.maxIntervalMs);
  }
  if (input.itemsPerDay != null && input.itemsPerDay > 0) {
    // Aim for about one new item per poll.
    return clamp(86_400_000 / input.itemsPerDay, opts.minIntervalMs, opts.maxIntervalMs);
  }
  if (input.itemsPerDay === 0) return opts.maxIntervalMs;
  return clamp(opts.defaultIntervalMs, opts.minIntervalMs, opts.maxIntervalMs);
}

/** When to check a feed next: the base interval with ± jitter, never below the minimum. */
export function nextCheckAt(input: ScheduleInput, opts: ScheduleOptions = DEFAULT_SCHEDULE): Date {
  const base = baseInterval(input, opts);
  const jittered = base * (1 + opts.jitter * (2 * input.random - 1));
  return new Date(input.now.getTime() + Math.max(opts.minIntervalMs, Math.round(jittered)));
}

import type { Redis } from "ioredis";
import { bands16, type Fingerprint } from "../fingerprint/simhash.ts";
import { ASSIGN_LUA } from "./assign-script.ts";

export interface IndexOptions {
  /** Key prefix for every index key, e.g. "nf:idx:". */
  prefix: string;
  /** Candidates must be published within ± this window (ms). */
  windowMs: number;
  /** Largest Hamming distance that joins an existing story. */
  threshold: number;
  /** Also probe each band's one-bit neighbours (finds every match within 7 bits). Default true. */
  multiProbe?: boolean;
}

export interface IndexEntry {
  /** Stable id of the item (feed + identity). */
  ref: string;
  /** Published (or first seen) time, ms since the epoch. */
  ts: number;
  fp: Fingerprint;
}

export interface Assignment {
  storyKey: string;
  distance: number;
  /** False when the item was already in the index (a re-delivery). */
  created: boolean;
}

type AssignFn = (...args: (string | number)[]) => Promise<[string, number, number][]>;

/** The recent-fingerprint index in Redis; `assign` is one atomic Lua call per batch. */
export class FingerprintIndex {
  private readonly assignFn: AssignFn;

  constructor(
    private readonly redis: Redis,
    private readonly opts: IndexOptions,
  ) {
    if (!(redis as unknown as Record<string, unknown>).nfAssign) {
      redis.defineCommand("nfAssign", { numberOfKeys: 0, lua: ASSIGN_LUA });
    }
    this.assignFn = (redis as unknown as { nfAssign: AssignFn }).nfAssign.bind(redis);
  }

  async assign(entries: readonly IndexEntry[]): Promise<Assignment[]> {
    if (entries.length === 0) return [];
    const ttlSeconds = Math.ceil((this.opts.windowMs * 2) / 1000);
    const args: (string | number)[] = [this.opts.prefix, this.opts.windowMs, this.opts.threshold, ttlSeconds,
      this.opts.multiProbe === false ? 0 : 16];
    for (const e of entries) args.push(e.ref, e.ts, e.fp.hi, e.fp.lo, ...bands16(e.fp));
    const res = await this.assignFn(...args);
    return res.map(([storyKey, distance, created]) => ({ storyKey, distance, created: created === 1 }));
  }
}

import type { Redis } from "ioredis";
import type { Fingerprint } from "../fingerprint/simhash.ts";
import type { NumberSignature } from "../fingerprint/sketch.ts";
import { ASSIGN_LUA } from "./assign-script.ts";
import { LOAD_LUA } from "./load-script.ts";

export interface IndexOptions {
  /** Key prefix for every index key, e.g. "newsfeed:idx:". */
  prefix: string;
  /** Candidates must be published within ± this window (ms). */
  windowMs: number;
  /** Smallest estimated containment (0–1) of the smaller text in the larger that joins a story. */
  minContainment: number;
  /** Lead numbers of either side that may be missing from the other. */
  maxNumberMismatches: number;
  /** Smallest containment with a copy of another story that merges that story in (default 0.5). */
  mergeContainment?: number;
}

export interface IndexEntry {
  /** Stable id of the item (feed + identity): 1–16 ASCII characters (itemRef gives 16). */
  ref: string;
  /** Published (or first seen) time, ms since the epoch. */
  ts: number;
  fp: Fingerprint;
  sketch: Buffer;
  shingles: number;
  numbers: NumberSignature;
  /** The item's feed and the chrome keys of its short lines, counted when the item is new. */
  feedId?: number;
  chrome?: readonly string[];
}

export interface Assignment {
  storyKey: string;
  /** Simhash Hamming distance to the copy it matched; 0 when it founded the story. */
  distance: number;
  /** Estimated containment (0–1) shared with the copy it matched; 1 when it founded the story. */
  similarity: number;
  /** False when the item was already in the index (a re-delivery). */
  created: boolean;
  /** Stories this item's arrival merged into storyKey (it matched copies in each). */
  merged: string[];
}

/** A fingerprint with the story it already belongs to. */
export interface LoadEntry extends IndexEntry {
  storyKey: string;
  distance: number;
  similarity: number;
}

/** Refs and story keys live in fixed 16-byte fields of the index's records. */
function checkRef(ref: string): string {
  if (!/^[\x21-\x7e]{1,16}$/.test(ref)) throw new RangeError(`index ref must be 1–16 printable ASCII characters: ${JSON.stringify(ref)}`);
  return ref;
}

type LoadFn = (...args: (string | number | Buffer)[]) => Promise<number>;
type AssignFn = (...args: (string | number | Buffer)[]) => Promise<[string, number, number, number, ...string[]][]>;

/** The recent-fingerprint index in Redis; `assign` is one atomic Lua call per batch. */
export class FingerprintIndex {
  private readonly assignFn: AssignFn;
  private readonly loadFn: LoadFn;

  constructor(
    private readonly redis: Redis,
    private readonly opts: IndexOptions,
  ) {
    if (!(redis as unknown as Record<string, unknown>).nfAssign) {
      redis.defineCommand("nfAssign", { numberOfKeys: 0, lua: ASSIGN_LUA });
    }
    this.assignFn = (redis as unknown as { nfAssign: AssignFn }).nfAssign.bind(redis);
    if (!(redis as unknown as Record<string, unknown>).nfLoad) {
      redis.defineCommand("nfLoad", { numberOfKeys: 0, lua: LOAD_LUA });
    }
    this.loadFn = (redis as unknown as { nfLoad: LoadFn }).nfLoad.bind(redis);
  }

  private get ttlSeconds(): number {
    return Math.ceil((this.opts.windowMs * 2) / 1000);
  }

  /** Puts fingerprints back with their stories (rebuilding from Postgres); returns how many were new. */
  async load(entries: readonly LoadEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    const args: (string | number | Buffer)[] = [this.opts.prefix, this.ttlSeconds, this.opts.windowMs];
    for (const e of entries) {
      args.push(
        checkRef(e.ref), e.ts, e.fp.hi >>> 0, e.fp.lo >>> 0, e.shingles, e.sketch, e.numbers.mask, e.numbers.lead,
        checkRef(e.storyKey),
        e.distance, Math.round(e.similarity * 1000),
      );
    }
    return this.loadFn(...args);
  }

  /** For each feed, how many of its items carried each of the given chrome keys (one round trip). */
  async chromeCounts(requests: ReadonlyMap<number, readonly string[]>): Promise<Map<number, Map<string, number>>> {
    const out = new Map<number, Map<string, number>>();
    const feeds = [...requests].filter(([, keys]) => keys.length > 0);
    if (feeds.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const [feedId, keys] of feeds) pipe.hmget(`${this.opts.prefix}chrome:${feedId}`, ...keys);
    const res = (await pipe.exec()) ?? [];
    feeds.forEach(([feedId, keys], i) => {
      const [err, values] = res[i] ?? [];
      if (err) throw err;
      const counts = new Map<string, number>();
      (values as (string | null)[]).forEach((v, k) => {
        if (v) counts.set(keys[k]!, Number(v));
      });
      out.set(feedId, counts);
    });
    return out;
  }

  async assign(entries: readonly IndexEntry[]): Promise<Assignment[]> {
    if (entries.length === 0) return [];
    const args: (string | number | Buffer)[] = [
      this.opts.prefix, this.opts.windowMs, Math.round(this.opts.minContainment * 1000),
      this.opts.maxNumberMismatches, this.ttlSeconds, Math.round((this.opts.mergeContainment ?? 0.5) * 1000),
    ];
    for (const e of entries) {
      args.push(
        checkRef(e.ref), e.ts, e.fp.hi >>> 0, e.fp.lo >>> 0, e.shingles, e.sketch, e.numbers.mask, e.numbers.lead,
        e.feedId ?? 0,
        (e.chrome ?? []).join(","),
      );
    }
    const res = await this.assignFn(...args);
    return res.map(([storyKey, distance, permille, created, ...merged]) => ({
      storyKey, distance, similarity: permille / 1000, created: created === 1, merged,
    }));
  }
}

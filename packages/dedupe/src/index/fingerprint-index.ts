import type { Redis } from "ioredis";
import type { Fingerprint } from "../fingerprint/simhash.ts";
import type { NumberSignature } from "../fingerprint/sketch.ts";
import { ASSIGN_LUA } from "./assign-script.ts";
import { LOAD_LUA } from "./load-script.ts";
import { LAYOUT_LUA } from "./layout-lua.ts";

/** A story key's current key: merged stories point at the story they joined (as in assign). */
const ROOT_LUA = `
local function root(prefix, s)
  for _ = 1, 64 do
    local a = redis.call('GET', prefix .. 'alias:' .. s)
    if not a then return s end
    s = a
  end
  return s
end
`;

/**
 * Read-only: for each (ref, ts), the story the index holds the item in (merges followed),
 * its match and its simhash, or an empty reply when the index does not hold it.
 * ARGV: prefix, windowMs, then per item: ref, ts.
 */
const LOOKUP_LUA = LAYOUT_LUA + ROOT_LUA + `
local prefix = ARGV[1]
local SLICE = 2 * tonumber(ARGV[2])
local out = {}
for k = 0, (#ARGV - 2) / 2 - 1 do
  local ref, ts = ARGV[3 + 2 * k], tonumber(ARGV[4 + 2 * k])
  local _, r = findRef(prefix, math.floor(ts / SLICE), ref)
  if r then
    local d, c = recMatch(r)
    local hi, lo = recSimhash(r)
    out[#out + 1] = { root(prefix, recStory(r)), d, c, hi, lo }
  else
    out[#out + 1] = {}
  end
end
return out
`;

/**
 * Brings fingerprints the index already holds up to date (a replay): same fingerprint and
 * story (merges followed): left alone (1); same fingerprint, other story: the record is
 * rewritten in place (2); another fingerprint: the old record is zeroed (its band and ref
 * entries then point at nothing and leave with their slice) and the item inserted afresh (2).
 * An item the index does not hold is not added (0). ARGV as load's.
 */
const REFRESH_LUA = LAYOUT_LUA + ROOT_LUA + `
local prefix = ARGV[1]
local ttl = tonumber(ARGV[2])
local SLICE = 2 * tonumber(ARGV[3])
local sliceTtl = ttl + math.ceil(SLICE / 1000)
local FIELDS = 11
local out = {}
for k = 0, (#ARGV - 3) / FIELDS - 1 do
  local base = 3 + k * FIELDS
  local ref, ts, sketch = ARGV[base + 1], tonumber(ARGV[base + 2]), ARGV[base + 6]
  local shingles, mask, lead = tonumber(ARGV[base + 5]), ARGV[base + 7], ARGV[base + 8]
  local hi, lo = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  local story, d, c = ARGV[base + 9], tonumber(ARGV[base + 10]), tonumber(ARGV[base + 11])
  local slice = math.floor(ts / SLICE)
  local id, r = findRef(prefix, slice, ref)
  if not id then
    out[#out + 1] = 0
  else
    local b = bins(sketch)
    local rhi, rlo = recSimhash(r)
    local same = recBins(r) == b and rhi == hi and rlo == lo and recShingles(r) == math.min(shingles, 65535)
      and recMask(r) == mask and recLead(r) == lead
    if same and root(prefix, recStory(r)) == story then
      out[#out + 1] = 1
    elseif same then
      writeRecord(prefix, id, ttl, ref, story, ts, shingles, b, mask, lead, hi, lo, d, c)
      out[#out + 1] = 2
    else
      redis.call('SETRANGE', prefix .. 'r:' .. math.floor(id / RECORDS), (id % RECORDS) * RECORD, string.rep('\\0', RECORD))
      insert(prefix, ttl, slice, sliceTtl, ref, story, ts, shingles, sketch, mask, lead, hi, lo, d, c)
      out[#out + 1] = 2
    end
  end
end
return out
`;

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

/** Where the index holds an item (see FingerprintIndex.lookup). */
export interface IndexedRef {
  /** The story it is in now (merges followed). */
  storyKey: string;
  distance: number;
  similarity: number;
  fp: Fingerprint;
}

/** What FingerprintIndex.refresh did. */
export interface IndexRefreshResult {
  /** Entries rewritten: another story, or another fingerprint. */
  updated: number;
  unchanged: number;
  /** Entries the index does not hold (not added). */
  absent: number;
}

/** The fingerprint index's size, as `FingerprintIndex.stats` measures it. */
export interface IndexStats {
  /** Fingerprint ids issued so far (the `seq` counter): every fingerprint ever added, expired ones included. */
  idsIssued: number;
  /** Fingerprints whose record chunk is still in Redis. */
  fingerprints: number;
  /** Record chunks (250 records each) still in Redis. */
  recordChunks: number;
  /** Estimated bytes: recordBytes + bucketBytes. */
  bytes: number;
  /** The live chunks at the size Redis reports for the newest one. */
  recordBytes: number;
  /** The LSH band and ref buckets of the live time slices, from a fixed sample of them (keys included). */
  bucketBytes: number;
  /** True when the chunks were too many to check each, and every n-th was checked. */
  sampled: boolean;
}

type LoadFn = (...args: (string | number | Buffer)[]) => Promise<number>;
type LookupFn = (...args: (string | number | Buffer)[]) => Promise<([string, number, number, number, number] | [])[]>;
type RefreshFn = (...args: (string | number | Buffer)[]) => Promise<number[]>;
type AssignFn = (...args: (string | number | Buffer)[]) => Promise<[string, number, number, number, ...string[]][]>;

/** The recent-fingerprint index in Redis; `assign` is one atomic Lua call per batch. */
export class FingerprintIndex {
  private readonly assignFn: AssignFn;
  private readonly loadFn: LoadFn;
  private readonly lookupFn: LookupFn;
  private readonly refreshFn: RefreshFn;

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
    if (!(redis as unknown as Record<string, unknown>).nfLookup) {
      redis.defineCommand("nfLookup", { numberOfKeys: 0, lua: LOOKUP_LUA });
    }
    this.lookupFn = (redis as unknown as { nfLookup: LookupFn }).nfLookup.bind(redis);
    if (!(redis as unknown as Record<string, unknown>).nfRefresh) {
      redis.defineCommand("nfRefresh", { numberOfKeys: 0, lua: REFRESH_LUA });
    }
    this.refreshFn = (redis as unknown as { nfRefresh: RefreshFn }).nfRefresh.bind(redis);
  }

  /** The key prefix of this index. */
  get prefix(): string {
    return this.opts.prefix;
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

  /**
   * The index's size, read-only, without SCAN and in a bounded number of round trips:
   * - idsIssued: the `seq` counter, every fingerprint ever added (expired ones included);
   * - fingerprints: those whose record chunk is still in Redis. Chunks (250 records) expire
   *   whole, TTL after their last write, and ids grow with time, so the live chunks are the
   *   newest ones: a binary search finds the oldest, and the chunks from there are checked
   *   (every n-th beyond 10,000 chunks);
   * - recordBytes: the live chunks at the size Redis reports for one (MEMORY USAGE);
   * - bucketBytes: for each time slice between the oldest and the newest live record (at most
   *   8), MEMORY USAGE of 1,024 evenly spread band buckets (of 40,960) and 256 ref buckets (of
   *   4,096), scaled up; never less than the entries' own 6 bytes each. Story aliases and
   *   chrome counts are not counted.
   * Without the MEMORY command (some managed services), the records' and entries' own sizes.
   */
  async stats(): Promise<IndexStats> {
    const RECORD = 131;
    const RECORDS = 250;
    const ENTRIES = 21;
    const BANDS = 20;
    const MAX_CHECKED = 10_000;
    const BAND_SAMPLES = 1_024;
    const REF_SAMPLES = 256;
    const p = this.opts.prefix;
    const idsIssued = Number((await this.redis.get(`${p}seq`)) ?? 0);
    const lastId = idsIssued % 4294967296;
    const newest = Math.floor(lastId / RECORDS);
    const chunkKey = (c: number) => `${p}r:${c}`;
    const exists = async (c: number) => (await this.redis.exists(chunkKey(c))) === 1;
    const out: IndexStats = { idsIssued, fingerprints: 0, recordChunks: 0, bytes: 0, recordBytes: 0, bucketBytes: 0, sampled: false };
    if (lastId === 0 || !(await exists(newest))) return out;
    let lo = 0;
    let hi = newest;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (await exists(mid)) hi = mid;
      else lo = mid + 1;
    }
    // Ids in chunk c: c * RECORDS … c * RECORDS + RECORDS - 1, from id 1 to lastId.
    const idsIn = (c: number) => Math.min(lastId, c * RECORDS + RECORDS - 1) - Math.max(1, c * RECORDS) + 1;
    const span = newest - lo + 1;
    const step = Math.max(1, Math.ceil(span / MAX_CHECKED));
    const checked: number[] = [];
    for (let c = newest; c >= lo; c -= step) checked.push(c);
    let liveChecked = 0;
    let idsChecked = 0;
    for (let i = 0; i < checked.length; i += 1_000) {
      const part = checked.slice(i, i + 1_000);
      const pipe = this.redis.pipeline();
      for (const c of part) pipe.exists(chunkKey(c));
      const res = (await pipe.exec()) ?? [];
      part.forEach((c, k) => {
        const [err, n] = res[k] ?? [];
        if (err) throw err;
        if (n === 1) {
          liveChecked++;
          idsChecked += idsIn(c);
        }
      });
    }
    out.sampled = step > 1;
    out.recordChunks = Math.round((liveChecked * span) / checked.length);
    out.fingerprints = out.sampled ? Math.round((idsChecked * span) / checked.length) : idsChecked;
    const ownBytes = { records: out.recordChunks * RECORDS * RECORD, buckets: out.fingerprints * ENTRIES * 6 };
    const memory = async (keys: string[]): Promise<number[]> => {
      const pipe = this.redis.pipeline();
      for (const k of keys) pipe.call("MEMORY", "USAGE", k);
      return ((await pipe.exec()) ?? []).map(([err, n]) => {
        if (err) throw err;
        return typeof n === "number" ? n : 0;
      });
    };
    try {
      const [chunkBytes] = await memory([chunkKey(newest)]);
      out.recordBytes = out.recordChunks * (chunkBytes || RECORDS * RECORD);
      // The time slices the live records fall in, from the first live record and the newest.
      const tsOf = async (id: number): Promise<number | null> => {
        const off = (id % RECORDS) * RECORD + 32;
        const b = await this.redis.getrangeBuffer(chunkKey(Math.floor(id / RECORDS)), off, off + 5);
        const ts = b.length === 6 ? b.readUInt16BE(0) * 4294967296 + b.readUInt32BE(2) : 0;
        return ts > 0 ? ts : null;
      };
      const times = (await Promise.all([tsOf(Math.max(1, lo * RECORDS)), tsOf(lastId)])).filter((x): x is number => x !== null);
      const SLICE = 2 * this.opts.windowMs;
      let bucketBytes = 0;
      if (times.length) {
        const last = Math.floor(Math.max(...times) / SLICE);
        const first = Math.max(Math.floor(Math.min(...times) / SLICE), last - 7);
        for (let slice = first; slice <= last; slice++) {
          const bands = Array.from({ length: BAND_SAMPLES }, (_, k) => {
            const j = Math.floor((k * BANDS * 2048) / BAND_SAMPLES);
            return `${p}b${j % BANDS}:${slice}:${Math.floor(j / BANDS)}`;
          });
          const refs = Array.from({ length: REF_SAMPLES }, (_, k) =>
            `${p}i:${slice}:${Math.floor((k * 4096) / REF_SAMPLES).toString(16).padStart(3, "0")}`);
          const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
          bucketBytes += (sum(await memory(bands)) * BANDS * 2048) / BAND_SAMPLES + (sum(await memory(refs)) * 4096) / REF_SAMPLES;
        }
      }
      out.bucketBytes = Math.round(Math.max(bucketBytes, ownBytes.buckets));
    } catch {
      // MEMORY is disabled on some managed Redis services: the records' and entries' own sizes.
      out.recordBytes = ownBytes.records;
      out.bucketBytes = ownBytes.buckets;
    }
    out.bytes = out.recordBytes + out.bucketBytes;
    return out;
  }

  /**
   * Where the index holds each item (the story `assign` would return for a ref already
   * present), or null when it does not hold it. Read-only: nothing is inserted or counted.
   */
  async lookup(entries: readonly { ref: string; ts: number }[]): Promise<(IndexedRef | null)[]> {
    if (entries.length === 0) return [];
    const args: (string | number)[] = [this.opts.prefix, this.opts.windowMs];
    for (const e of entries) args.push(checkRef(e.ref), e.ts);
    const res = await this.lookupFn(...args);
    return res.map((r) =>
      r.length === 0
        ? null
        : { storyKey: r[0], distance: r[1], similarity: r[2] / 1000, fp: { hi: r[3] >>> 0, lo: r[4] >>> 0 } },
    );
  }

  /**
   * Updates the entries the index already holds to the given story and fingerprint (after
   * a replay rewrote them in Postgres); adds none. Safe to run twice: the second changes nothing.
   */
  async refresh(entries: readonly LoadEntry[]): Promise<IndexRefreshResult> {
    const out: IndexRefreshResult = { updated: 0, unchanged: 0, absent: 0 };
    if (entries.length === 0) return out;
    const args: (string | number | Buffer)[] = [this.opts.prefix, this.ttlSeconds, this.opts.windowMs];
    for (const e of entries) {
      args.push(
        checkRef(e.ref), e.ts, e.fp.hi >>> 0, e.fp.lo >>> 0, e.shingles, e.sketch, e.numbers.mask, e.numbers.lead,
        checkRef(e.storyKey), e.distance, Math.round(e.similarity * 1000),
      );
    }
    for (const status of await this.refreshFn(...args)) {
      if (status === 2) out.updated++;
      else if (status === 1) out.unchanged++;
      else out.absent++;
    }
    return out;
  }

  /** The current key of each story key (merges followed), in one round trip per alias level. */
  async roots(keys: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let pending = [...new Set(keys)].map((k) => [k, k] as [string, string]);
    for (let depth = 0; pending.length && depth < 64; depth++) {
      const next: [string, string][] = [];
      for (let i = 0; i < pending.length; i += 1000) {
        const chunk = pending.slice(i, i + 1000);
        const values = await this.redis.mget(...chunk.map(([, cur]) => `${this.opts.prefix}alias:${cur}`));
        chunk.forEach(([key, cur], j) => {
          const v = values[j];
          if (v) next.push([key, v]);
          else out.set(key, cur);
        });
      }
      pending = next;
    }
    for (const [key, cur] of pending) out.set(key, cur);
    return out;
  }

  /** Forgets that these stories were merged into others (they are stories of their own again). */
  async dropAliases(keys: readonly string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      if (chunk.length) n += await this.redis.del(...chunk.map((k) => `${this.opts.prefix}alias:${k}`));
    }
    return n;
  }

  /** Deletes every key of this index (a scratch index once it has served); returns how many. */
  async clear(): Promise<number> {
    const pattern = `${this.opts.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
    let cursor = "0";
    let n = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length) n += await this.redis.unlink(...keys);
    } while (cursor !== "0");
    return n;
  }
}

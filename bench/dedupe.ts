/**
 * pnpm bench:dedupe [--input FILE] [--predictions OUT] [--batch 100]
 *
 * Runs the dedupe worker's own code (cleaning, fingerprints, the Redis index and
 * its Lua assignment) over a labelled benchmark in published order, writes one
 * {"id","cluster"} line per doc, scores it with ../shared/tools/score-clusters.mjs,
 * and prints newsfeed next to two baselines measured in the same run: simhash-js
 * (the npm package, default settings) and exact normalized text. Then the missed
 * and wrong pairs by edit type, and the docs/s of the pure stage (cleaning +
 * fingerprinting) on 600-word articles, on one core.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { createRequire } from "node:module";
import { assignBatch, chromeKeys, cleanParagraphs, cleanText, hamming, prepareItem } from "@newsfeed/dedupe";
import { createIndex, dedupeSettings, loadConfig } from "@newsfeed/cli";
import type { ItemPayload } from "@newsfeed/jobs";
import { args, deleteKeys, intOf, REDIS_URL } from "./lib.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SHARED = resolve(ROOT, "../shared");
const SCORER = join(SHARED, "tools/score-clusters.mjs");
const USAGE =
  "usage: pnpm bench:dedupe [--input FILE] [--predictions OUT] [--batch 100] [--index-scale 200000 (0 skips)]";
const a = args(
  {
    input: { type: "string", default: join(SHARED, "data/dedupe/dev.jsonl") },
    predictions: { type: "string", default: join(tmpdir(), "newsfeed-dedupe-predictions.jsonl") },
    batch: { type: "string", default: "100" },
    "index-scale": { type: "string", default: "200000" },
  },
  USAGE,
);
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
const BATCH = intOf("batch", a.batch);
const SCALE = a["index-scale"] === "0" ? 0 : intOf("index-scale", a["index-scale"]);
/** The scale test fills a Redis database of its own and empties it after. */
const SCALE_DB = Number(process.env.BENCH_REDIS_DB ?? 15);
for (const [what, path] of [["input", a.input], ["scorer", SCORER]] as const) {
  if (!existsSync(path)) {
    console.error(`bench:dedupe: ${what} not found: ${path}`);
    process.exit(2);
  }
}

interface Doc {
  id: string;
  title: string;
  text: string;
  html?: string;
  published: string;
  source: string;
  cluster: string;
  edits: string[];
}
const docs: Doc[] = readFileSync(a.input, "utf8")
  .split("\n")
  .map((l, i) => ({ l, i }))
  .filter(({ l }) => l.trim())
  .map(({ l, i }) => {
    try {
      const d = JSON.parse(l) as Doc;
      if (typeof d.id !== "string" || typeof d.text !== "string" || Number.isNaN(Date.parse(d.published))) throw new Error("needs id, text and published");
      return d;
    } catch (e) {
      console.error(`bench:dedupe: ${a.input}:${i + 1}: not a benchmark doc (${(e as Error).message})`);
      process.exit(2);
    }
  })
  .map((d, i) => ({ d, i }))
  .sort((x, y) => Date.parse(x.d.published) - Date.parse(y.d.published) || x.i - y.i)
  .map((x) => x.d);
if (docs.length === 0) {
  console.error(`bench:dedupe: ${a.input} holds no docs`);
  process.exit(2);
}
const config = loadConfig(process.env);
const settings = dedupeSettings(config);
const windowMs = config.DEDUPE_WINDOW_HOURS * 3_600_000;
const feedIds = new Map<string, number>();
const toItem = (d: Doc): ItemPayload => {
  if (!feedIds.has(d.source)) feedIds.set(d.source, feedIds.size + 1);
  return {
    feedId: feedIds.get(d.source)!, identityKey: d.id, guid: d.id, url: null, canonicalUrl: null,
    title: d.title, content: d.html ?? d.text, publishedAt: d.published, seenAt: d.published, contentHash: d.id,
  };
};

interface Score { precision: number; recall: number; f1: number; ari: number; tp: number; fp: number; fn: number }
function score(pred: Map<string, string>, file: string): Score {
  writeFileSync(file, docs.map((d) => JSON.stringify({ id: d.id, cluster: pred.get(d.id) })).join("\n") + "\n");
  return JSON.parse(execFileSync(process.execPath, [SCORER, a.input, file, "--json"], { encoding: "utf8" })) as Score;
}

async function newsfeed(): Promise<{ pred: Map<string, string>; seconds: number }> {
  const redis = new Redis(REDIS_URL);
  const prefix = `nf-bench-dedupe-${randomBytes(4).toString("hex")}:`;
  const index = createIndex(config, redis, prefix);
  const pred = new Map<string, string>();
  const alias = new Map<string, string>();
  const t0 = performance.now();
  try {
    for (let i = 0; i < docs.length; i += BATCH) {
      const batch = docs.slice(i, i + BATCH);
      const { assignments } = await assignBatch({ index, settings }, batch.map(toItem));
      batch.forEach((d, k) => {
        const a = assignments[k]!;
        pred.set(d.id, a.storyKey);
        for (const m of a.merged) alias.set(m, a.storyKey);
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    // Stories merged later carry their earlier copies along, as the store does.
    const final = (s: string): string => (alias.has(s) ? final(alias.get(s)!) : s);
    for (const [id, s] of pred) pred.set(id, final(s));
    return { pred, seconds };
  } finally {
    await deleteKeys(redis, prefix);
    await redis.quit();
  }
}

/** simhash-js with its defaults; a doc joins the nearest earlier doc within 3 of 32 bits in the window. */
function simhashJs(): Map<string, string> {
  const sjs = createRequire(import.meta.url)("simhash-js") as { SimHash: new () => { hash(s: string): number } };
  const sh = new sjs.SimHash();
  const hashes: number[] = [];
  const pred = new Map<string, string>();
  docs.forEach((d, i) => {
    const h = sh.hash(d.text) >>> 0;
    const t = Date.parse(d.published);
    let best = -1;
    let bestD = 4;
    for (let j = i - 1; j >= 0; j--) {
      if (t - Date.parse(docs[j]!.published) > windowMs) break;
      const dist = hamming({ hi: 0, lo: h }, { hi: 0, lo: hashes[j]! });
      if (dist < bestD) [best, bestD] = [j, dist];
    }
    hashes.push(h);
    pred.set(d.id, best >= 0 ? pred.get(docs[best]!.id)! : d.id);
  });
  return pred;
}

/** Docs whose cleaned, case-folded text is identical. */
function exactText(): Map<string, string> {
  const first = new Map<string, string>();
  const pred = new Map<string, string>();
  for (const d of docs) {
    const key = cleanText(d.html ?? d.text).toLowerCase();
    if (!first.has(key)) first.set(key, d.id);
    pred.set(d.id, first.get(key)!);
  }
  return pred;
}

/** Missed (same story, apart) and wrong (different stories, together) pairs, by edit type. */
function pairsByEdit(pred: Map<string, string>): { missed: Map<string, number>; wrong: Map<string, number> } {
  const missed = new Map<string, number>();
  const wrong = new Map<string, number>();
  const bump = (m: Map<string, number>, x: Doc, y: Doc) => {
    const edits = new Set([...x.edits, ...y.edits]);
    if (edits.size === 0) edits.add("(none)");
    for (const e of edits) m.set(e, (m.get(e) ?? 0) + 1);
  };
  const group = (key: (d: Doc) => string) => {
    const g = new Map<string, Doc[]>();
    for (const d of docs) g.set(key(d), [...(g.get(key(d)) ?? []), d]);
    return [...g.values()];
  };
  for (const members of group((d) => d.cluster)) {
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        if (pred.get(members[i]!.id) !== pred.get(members[j]!.id)) bump(missed, members[i]!, members[j]!);
      }
    }
  }
  for (const members of group((d) => pred.get(d.id)!)) {
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        if (members[i]!.cluster !== members[j]!.cluster) bump(wrong, members[i]!, members[j]!);
      }
    }
  }
  return { missed, wrong };
}

/** Cleaning + fingerprinting docs/s on ~600-word articles built from the benchmark's own texts. */
function pureStage(): { docsPerSecond: number; words: number; n: number } {
  const articles: ItemPayload[] = [];
  let buf: Doc[] = [];
  let words = 0;
  let total = 0;
  for (const d of docs) {
    buf.push(d);
    words += d.text.split(/\s+/).length;
    if (words >= 600) {
      const html = buf[0]!.html !== undefined;
      const content = html
        ? buf.map((x) => x.html ?? `<p>${x.text}</p>`).join("\n")
        : buf.map((x) => x.text).join("\n\n");
      articles.push({ ...toItem(buf[0]!), content });
      total += words;
      buf = [];
      words = 0;
    }
  }
  // What the worker does before and after its Redis round trips: clean, list the
  // chrome candidates, fingerprint.
  const pure = (it: ItemPayload) => {
    const paragraphs = cleanParagraphs(it.content);
    chromeKeys(paragraphs);
    return prepareItem(it, settings, paragraphs);
  };
  for (const it of articles.slice(0, 200)) pure(it); // warm-up
  const rounds = 3;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (const it of articles) pure(it);
  const seconds = (performance.now() - t0) / 1000;
  return { docsPerSecond: (rounds * articles.length) / seconds, words: Math.round(total / articles.length), n: articles.length };
}

console.log(`bench:dedupe — ${docs.length} docs from ${a.input}, in published order; batches of ${BATCH}; node ${process.version}`);
console.log(`settings: shingles of ${settings.shingleSize} words, min containment ${config.DEDUPE_MIN_CONTAINMENT}, number mismatches ≤ ${config.DEDUPE_MAX_NUMBER_MISMATCHES}, window ${config.DEDUPE_WINDOW_HOURS} h`);
const run = await newsfeed();
const ours = score(run.pred, a.predictions);
const base1 = score(simhashJs(), `${a.predictions}.simhash-js`);
const base2 = score(exactText(), `${a.predictions}.exact`);
const f = (x: number) => x.toFixed(4);
console.log(`\n${"method".padEnd(26)} ${"precision".padStart(9)} ${"recall".padStart(7)} ${"F1".padStart(7)} ${"ARI".padStart(7)} ${"FP pairs".padStart(8)} ${"FN pairs".padStart(8)}`);
for (const [name, s] of [["newsfeed", ours], ["simhash-js (defaults)", base1], ["exact normalized text", base2]] as const) {
  console.log(`${name.padEnd(26)} ${f(s.precision).padStart(9)} ${f(s.recall).padStart(7)} ${f(s.f1).padStart(7)} ${f(s.ari).padStart(7)} ${String(s.fp).padStart(8)} ${String(s.fn).padStart(8)}`);
}
console.log(`goal on dev: precision ≥ 0.998, F1 ≥ 0.997`);
console.log(`newsfeed through Redis: ${(docs.length / run.seconds).toFixed(0)} docs/s end to end (clean, fingerprint, Lua assignment)`);
const { missed, wrong } = pairsByEdit(run.pred);
const edits = [...new Set([...missed.keys(), ...wrong.keys()])].sort((x, y) => (missed.get(y) ?? 0) - (missed.get(x) ?? 0));
console.log(`\npairs by edit type (a pair counts under every edit either copy carries)`);
console.log(`${"edit".padEnd(22)} ${"missed".padStart(7)} ${"wrong".padStart(7)}`);
for (const e of edits) console.log(`${e.padEnd(22)} ${String(missed.get(e) ?? 0).padStart(7)} ${String(wrong.get(e) ?? 0).padStart(7)}`);
const pure = pureStage();
console.log(`\npure stage (cleaning + fingerprints), one core: ${pure.docsPerSecond.toFixed(0)} docs/s on ${pure.n} articles of ~${pure.words} words (goal ≥ 20,000)`);
console.log(`predictions: ${a.predictions}`);
if (SCALE) await indexAtScale();

/**
 * Lookup-and-assign latency and Redis memory with SCALE fingerprints in the window:
 * the index is filled with synthetic fingerprints (random sketches, as unrelated
 * stories have) through the same layout, then the benchmark's docs are assigned.
 */
async function indexAtScale(): Promise<void> {
  const redis = new Redis(REDIS_URL, { db: SCALE_DB });
  if ((await redis.dbsize()) > 0) {
    console.error(`bench:dedupe: Redis database ${SCALE_DB} is not empty; set BENCH_REDIS_DB to an empty one`);
    await redis.quit();
    process.exit(2);
  }
  try {
    const index = createIndex(config, redis, "nf-scale:");
    const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info("memory"))![1]);
    const before = await used();
    const t0 = Date.parse(docs[0]!.published);
    const rand = (() => {
      let x = 0x12345678;
      return () => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0);
    })();
    const fill0 = performance.now();
    for (let i = 0; i < SCALE; i += 1000) {
      const entries = Array.from({ length: Math.min(1000, SCALE - i) }, (_, k) => {
        const sketch = Buffer.alloc(128);
        for (let j = 0; j < 32; j++) sketch.writeUInt32BE(rand(), j * 4);
        const mask = Buffer.alloc(8);
        mask.writeUInt32BE(rand(), 0);
        const lead = Buffer.alloc(8);
        lead.writeUInt32BE((mask.readUInt32BE(0) & rand() & rand() & rand()) >>> 0, 0);
        return {
          ref: `s${(i + k).toString(36)}`, ts: t0 + (rand() % (windowMs / 1000)) * 1000,
          fp: { hi: rand(), lo: rand() }, sketch, shingles: 100 + (rand() % 500),
          numbers: { mask, lead },
          storyKey: `s${(i + k).toString(36)}`, distance: 0, similarity: 1,
        };
      });
      await index.load(entries);
      if ((i / 1000) % 100 === 99) process.stderr.write(`  … ${i + 1000} synthetic fingerprints loaded\n`);
    }
    const fillSeconds = (performance.now() - fill0) / 1000;
    const perFp = ((await used()) - before) / SCALE;
    const sample = docs.slice(0, 2000).map(toItem);
    const prepared = sample.map((it) => prepareItem(it, settings));
    const lat = async (batch: number) => {
      const per: number[] = [];
      for (let i = 0; i < prepared.length; i += batch) {
        const b = prepared.slice(i, i + batch).map((p) => ({
          ref: `${batch}.${p.ref}`.slice(0, 16), ts: p.ts, fp: p.doc.fp, sketch: p.doc.sketch, shingles: p.doc.shingles, numbers: p.doc.numbers,
        }));
        const t = performance.now();
        await index.assign(b);
        per.push((performance.now() - t) / b.length);
      }
      per.sort((x, y) => x - y);
      const q = (p: number) => per[Math.min(per.length - 1, Math.floor(p * per.length))]!;
      return { p50: q(0.5), p99: q(0.99) };
    };
    const one = await lat(1);
    const hundred = await lat(100);
    console.log(`\nindex at scale: ${SCALE.toLocaleString("en")} fingerprints in the window (loaded in ${fillSeconds.toFixed(0)} s)`);
    console.log(`  Redis memory per fingerprint: ${perFp.toFixed(0)} bytes (goal ≤ 100)`);
    console.log(`  lookup-and-assign, one item a call:     p50 ${one.p50.toFixed(3)} ms, p99 ${one.p99.toFixed(3)} ms`);
    console.log(`  lookup-and-assign, per item of a batch of 100: p50 ${hundred.p50.toFixed(3)} ms, p99 ${hundred.p99.toFixed(3)} ms (goal p99 ≤ 2 ms)`);
  } finally {
    await redis.flushdb();
    await redis.quit();
  }
}

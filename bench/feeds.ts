/**
 * pnpm bench:feeds [--dir DIR] [--json OUT]
 *
 * Runs every file of a feed corpus (default ../shared/data/feeds: real/,
 * synthetic/, manifest.tsv) through the ingest reader exactly as the worker
 * runs it — decodeBody → parseFeed → normalizeItems — and prints agreement with
 * the manifest's reference columns (item count, first title, first link) by
 * format and by encoding, next to rss-parser 3.13.0 alone (default options,
 * bytes read as UTF-8) measured in the same run. With --json OUT, writes one
 * {"file","ok","error_class","item_count","first_title","first_link"} line per file.
 *
 * Titles are compared after one normalization applied to both sides: character
 * references decoded (decimal, hex, and the named &amp; &lt; &gt; &quot; &apos;
 * &nbsp;), whitespace runs collapsed to one space, ends trimmed. Links agree when the manifest link, resolved
 * against ours, is ours (so a relative reference agrees with its resolution).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeBody, IngestError, normalizeItems, parseFeed } from "@newsfeed/ingest";
import { args } from "./lib.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const USAGE = "usage: pnpm bench:feeds [--dir DIR (real/, synthetic/, manifest.tsv)] [--json OUT]";
const a = args({ dir: { type: "string", default: resolve(ROOT, "../shared/data/feeds") }, json: { type: "string", default: "" } }, USAGE);
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
const DIR = resolve(a.dir);
const MANIFEST = join(DIR, "manifest.tsv");
if (!existsSync(DIR) || !statSync(DIR).isDirectory()) fail(`not a directory: ${DIR}`);
if (!existsSync(MANIFEST)) fail(`no manifest.tsv in ${DIR}`);
if (a.json) {
  try {
    writeFileSync(a.json, "");
  } catch (err) {
    fail(`cannot write --json ${a.json}: ${(err as Error).message}`);
  }
}

function fail(msg: string): never {
  console.error(`bench:feeds: ${msg}`);
  process.exit(2);
}

interface Row {
  file: string;
  set: string;
  format: string;
  encoding: string;
  count: number | null;
  title: string;
  link: string;
  contentType: string | null;
}
const rows = readManifest(MANIFEST);

function readManifest(path: string): Row[] {
  const lines = readFileSync(path, "utf8").split("\n").filter((l) => l.trim());
  const head = (lines.shift() ?? "").split("\t");
  const col = (name: string): number => {
    const i = head.indexOf(name);
    if (i < 0) fail(`${path}: no '${name}' column`);
    return i;
  };
  const c = {
    file: col("file"), set: col("set"), format: col("format"), enc: col("declared_encoding"), count: col("item_count"),
    title: col("first_item_title"), link: col("first_item_link"), headers: col("feedparser_http_headers"),
  };
  return lines.map((l, n) => {
    const f = l.split("\t");
    if (f.length !== head.length) fail(`${path}:${n + 2}: ${f.length} columns, the header has ${head.length}`);
    const count = f[c.count]!.trim();
    return {
      file: f[c.file]!, set: f[c.set]!, format: f[c.format]!, encoding: encodingGroup(f[c.enc]!),
      count: /^\d+$/.test(count) ? Number(count) : null, title: f[c.title]!, link: f[c.link]!,
      contentType: /content-type:\s*([^|]+)/i.exec(f[c.headers]!)?.[1]?.trim() ?? null,
    };
  });
}

function encodingGroup(declared: string): string {
  const d = declared.trim().toLowerCase();
  if (d.startsWith("(json")) return "json (utf-8)";
  if (d === "(none)" || d === "") return "undeclared";
  if (d.startsWith("utf-16")) return "utf-16";
  return d;
}

/** Every file under the corpus folders, including any the manifest does not list. */
const files = new Map<string, string>();
for (const sub of ["real", "synthetic"]) {
  const dir = join(DIR, sub);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir).sort()) if (statSync(join(dir, name)).isFile()) files.set(name, join(dir, name));
}
if (files.size === 0) fail(`no feed files under ${DIR}/real or ${DIR}/synthetic`);
for (const r of rows) if (!files.has(r.file)) fail(`manifest lists ${r.file}, not found under ${DIR}`);

interface Outcome {
  ok: boolean;
  errorClass: string | null;
  count: number;
  title: string | null;
  link: string | null;
  /** Some item's title or content holds U+FFFD. */
  replacement?: boolean;
}
const SEEN_AT = new Date("2026-01-01T00:00:00Z");
const feedUrlOf = (file: string) => `https://feeds.example.test/${encodeURIComponent(file)}`;

async function ours(body: Buffer, contentType: string | null, file: string): Promise<Outcome> {
  try {
    const parsed = await parseFeed(decodeBody(body, contentType));
    const items = normalizeItems(parsed, { feedId: 1, feedUrl: feedUrlOf(file), seenAt: SEEN_AT });
    const replacement = items.some((i) => i.title.includes("\ufffd") || i.content.includes("\ufffd"));
    return { ok: true, errorClass: null, count: items.length, title: items[0]?.title ?? null, link: items[0]?.url ?? null, replacement };
  } catch (err) {
    const errorClass = err instanceof IngestError ? err.code : `crash:${(err as Error).name}`;
    return { ok: false, errorClass, count: 0, title: null, link: null };
  }
}

type RssParser = { parseString(xml: string): Promise<{ items?: Array<{ title?: unknown; link?: unknown }> }> };
const RssParserCtor = createRequire(import.meta.url)("rss-parser") as new () => RssParser;
const plain = new RssParserCtor();

async function rssParserAlone(body: Buffer): Promise<Outcome> {
  try {
    const out = await plain.parseString(body.toString("utf8"));
    const first = out.items?.[0];
    const text = (v: unknown) => (v == null ? null : typeof v === "string" ? v : JSON.stringify(v));
    return { ok: true, errorClass: null, count: out.items?.length ?? 0, title: text(first?.title), link: text(first?.link) };
  } catch (err) {
    return { ok: false, errorClass: (err as Error).name, count: 0, title: null, link: null };
  }
}

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };
const decodeRefs = (s: string): string =>
  s.replace(/&(?:#[xX]([0-9a-fA-F]+)|#(\d+)|([a-zA-Z]+));/g, (m, hex?: string, dec?: string, name?: string) => {
    if (name) return NAMED[name] ?? m;
    const cp = parseInt(hex ?? dec ?? "", hex ? 16 : 10);
    return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
const normTitle = (s: string | null): string => decodeRefs(s ?? "").replace(/\s+/g, " ").trim();
function sameLink(want: string, got: string | null): boolean {
  if (!got) return false;
  try {
    return new URL(want, got).href === new URL(got).href;
  } catch {
    return want === got;
  }
}

interface Verdict { count: boolean; title: boolean; link: boolean | null }
const judge = (r: Row, o: Outcome): Verdict => ({
  count: o.count === r.count,
  title: normTitle(o.title) === normTitle(r.title),
  link: r.link ? sameLink(r.link, o.link) : null,
});

const t0 = performance.now();
const records: string[] = [];
const results: Array<{ row: Row; o: Outcome; base: Outcome }> = [];
const introducedFffd: string[] = [];
const byName = new Map(rows.map((r) => [r.file, r]));
const corpus = [...files].map(([name, path]) => ({ name, body: readFileSync(path), row: byName.get(name) }));
for (const { name, body, row } of corpus) {
  const o = await ours(body, row?.contentType ?? null, name);
  if (o.replacement && !body.includes(Buffer.from("\ufffd"))) introducedFffd.push(name);
  records.push(JSON.stringify({ file: name, ok: o.ok, error_class: o.errorClass, item_count: o.count, first_title: o.title, first_link: o.link }));
  if (row) results.push({ row, o, base: await rssParserAlone(body) });
}
if (a.json) writeFileSync(a.json, records.join("\n") + "\n");

/** Best of three passes over the whole corpus, in MB/s. */
async function throughput(run: (body: Buffer, name: string, ct: string | null) => Promise<unknown>): Promise<number> {
  const bytes = corpus.reduce((n, c) => n + c.body.length, 0);
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const t = performance.now();
    for (const c of corpus) await run(c.body, c.name, c.row?.contentType ?? null);
    best = Math.min(best, performance.now() - t);
  }
  return bytes / 1e6 / (best / 1000);
}
const speedOurs = await throughput((body, name, ct) => ours(body, ct, name));
const speedBase = await throughput((body) => rssParserAlone(body));
const corpusMb = corpus.reduce((n, c) => n + c.body.length, 0) / 1e6;

const withItems = results.filter((x) => (x.row.count ?? 0) > 0);
const pct = (n: number, d: number) => (d ? `${((100 * n) / d).toFixed(1)}%` : "-");
function table(label: string, key: (r: Row) => string): void {
  const groups = new Map<string, typeof withItems>();
  for (const x of withItems) groups.set(key(x.row), [...(groups.get(key(x.row)) ?? []), x]);
  console.log(`\n${label.padEnd(16)} ${"files".padStart(5)} ${"count".padStart(7)} ${"title".padStart(7)} ${"both".padStart(7)} ${"link".padStart(9)}   ${"rss-parser both".padStart(15)}`);
  const line = (name: string, xs: typeof withItems) => {
    const v = xs.map((x) => judge(x.row, x.o));
    const b = xs.map((x) => judge(x.row, x.base));
    const links = v.filter((j) => j.link !== null);
    console.log(
      `${name.padEnd(16)} ${String(xs.length).padStart(5)} ${pct(v.filter((j) => j.count).length, xs.length).padStart(7)} ${pct(v.filter((j) => j.title).length, xs.length).padStart(7)} ` +
        `${pct(v.filter((j) => j.count && j.title).length, xs.length).padStart(7)} ${`${links.filter((j) => j.link).length}/${links.length}`.padStart(9)}   ${pct(b.filter((j) => j.count && j.title).length, xs.length).padStart(15)}`,
    );
  };
  for (const [k, xs] of [...groups].sort((p, q) => q[1].length - p[1].length)) line(k, xs);
  line("all", withItems);
}

console.log(`bench:feeds — ${files.size} files from ${DIR} (${rows.length} in the manifest, ${withItems.length} with items); node ${process.version}`);
console.log("agreement with the manifest on files with items: count, first title (entities decoded, whitespace collapsed), both, first link");
table("by format", (r) => r.format);
table("by encoding", (r) => r.encoding);
const agree = withItems.filter((x) => {
  const j = judge(x.row, x.o);
  return j.count && j.title;
}).length;
const agreeBase = withItems.filter((x) => {
  const j = judge(x.row, x.base);
  return j.count && j.title;
}).length;
const countBase = withItems.filter((x) => judge(x.row, x.base).count).length;
console.log(`\ncount and first title agree: newsfeed ${agree}/${withItems.length} (${pct(agree, withItems.length)}), rss-parser alone ${agreeBase}/${withItems.length} (${pct(agreeBase, withItems.length)}); goal ≥ 98%`);
console.log(`count alone agrees: rss-parser alone ${countBase}/${withItems.length} (${pct(countBase, withItems.length)})`);

const noItems = results.filter((x) => x.row.count === 0);
const noReference = results.filter((x) => x.row.count === null);
const crashes = [...records].map((l) => JSON.parse(l) as { error_class: string | null; file: string }).filter((r) => r.error_class?.startsWith("crash"));
console.log(
  `files the manifest gives no items (${noItems.length}): ${noItems.filter((x) => x.o.ok && x.o.count === 0).length} read with 0 items, ` +
    `${noItems.filter((x) => !x.o.ok).length} parse errors, ${noItems.filter((x) => x.o.count > 0).length} with items`,
);
console.log(
  `files the manifest has no reference for (${noReference.length}): ` +
    noReference.map((x) => `${x.row.file} → ${x.o.ok ? `${x.o.count} items` : `${x.o.errorClass} error`}`).join(", "),
);
console.log(`unclassified crashes: ${crashes.length}${crashes.length ? ` (${crashes.map((c) => c.file).join(", ")})` : ""}`);
console.log(`files whose items hold a U+FFFD their bytes did not: ${introducedFffd.length}${introducedFffd.length ? ` (${introducedFffd.join(", ")})` : ""}`);
console.log(
  `speed, best of 3 passes over ${corpusMb.toFixed(1)} MB on one core: newsfeed reader (decode, repair, rss-parser, normalize) ${speedOurs.toFixed(1)} MB/s, ` +
    `rss-parser alone ${speedBase.toFixed(1)} MB/s; whole run ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

const disagreements = results.filter((x) => {
  const j = judge(x.row, x.o);
  if (x.row.count === null) return false;
  return x.row.count > 0 ? !(j.count && j.title) || j.link === false : x.o.count > 0;
});
if (disagreements.length) {
  console.log(`\ndisagreements (${disagreements.length}):`);
  for (const { row, o } of disagreements) {
    const j = judge(row, o);
    const what = [
      !j.count && `count ${o.ok ? o.count : `error ${o.errorClass}`} vs ${row.count ?? "-"}`,
      !j.title && `title ${JSON.stringify(normTitle(o.title)).slice(0, 70)} vs ${JSON.stringify(normTitle(row.title)).slice(0, 70)}`,
      j.link === false && `link ${o.link ?? "-"} vs ${row.link}`,
    ].filter(Boolean);
    console.log(`  ${row.file}: ${what.join("; ")}`);
  }
}
if (a.json) console.log(`records: ${a.json}`);

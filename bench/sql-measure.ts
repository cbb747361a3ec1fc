/** bench:sql's measurements: table sizes, timed query runs, and what a plan scans. */
import type pg from "pg";

type Conn = pg.Client | pg.PoolClient;

const fmtN = (n: number) => Math.round(n).toLocaleString("en");
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const pad = (s: string, n: number) => s.padEnd(n);

export interface TableSize {
  table: string;
  rows: number;
  /** Main fork only: the heap. */
  heap: number;
  /** The TOAST table and its index. */
  toast: number;
  indexes: number;
  /** pg_total_relation_size: heap, TOAST, indexes, free space and visibility maps. */
  total: number;
  indexList: { name: string; bytes: number }[];
}

export async function tableSizes(c: Conn, tables: readonly string[]): Promise<TableSize[]> {
  const out: TableSize[] = [];
  for (const table of tables) {
    const { rows } = await c.query<{ rows: string; heap: string; toast: string; indexes: string; total: string }>(
      `SELECT (SELECT count(*) FROM ${table}) AS rows,
              pg_relation_size(c.oid) AS heap,
              COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0) AS toast,
              pg_indexes_size(c.oid) AS indexes,
              pg_total_relation_size(c.oid) AS total
         FROM pg_class c WHERE c.oid = $1::regclass`,
      [table],
    );
    const idx = await c.query<{ name: string; bytes: string }>(
      `SELECT i.indexrelid::regclass::text AS name, pg_relation_size(i.indexrelid) AS bytes
         FROM pg_index i WHERE i.indrelid = $1::regclass ORDER BY 2 DESC`,
      [table],
    );
    const r = rows[0]!;
    out.push({
      table, rows: Number(r.rows), heap: Number(r.heap), toast: Number(r.toast), indexes: Number(r.indexes),
      total: Number(r.total), indexList: idx.rows.map((x) => ({ name: x.name, bytes: Number(x.bytes) })),
    });
  }
  return out;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs `sql` once to warm up, then `runs` times; wall time at the client, in ms. */
export async function timeQuery(c: Conn, sql: string, runs: number): Promise<{ medianMs: number; times: number[]; rows: number }> {
  await c.query(sql);
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const res = (await c.query(sql)) as pg.QueryResult | pg.QueryResult[];
    times.push(performance.now() - t0);
    const last = Array.isArray(res) ? res[res.length - 1]! : res;
    rows = last.rows.length;
  }
  return { medianMs: median(times), times, rows };
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Parallel Aware"?: boolean;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  Plans?: PlanNode[];
}

export interface ScanNode {
  node: string;
  relation: string;
  index: string | null;
  parallel: boolean;
  /** Rows out of the node over all its loops. */
  rows: number;
  loops: number;
}

export interface PlanFacts {
  scans: ScanNode[];
  executionMs: number;
  planningMs: number;
  /** JIT compilation time, when the plan was compiled. */
  jitMs: number | null;
  plan: unknown;
}

const SCANS = new Set(["Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Bitmap Index Scan", "Tid Scan"]);

/** EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) once; every scan node of the tree, with its relation. */
export async function explain(c: Conn, sql: string): Promise<PlanFacts> {
  const { rows } = await c.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`);
  const doc = (rows[0]!["QUERY PLAN"] as { Plan: PlanNode; "Execution Time": number; "Planning Time": number; JIT?: { Timing?: { Total?: number } } }[])[0]!;
  const scans: ScanNode[] = [];
  const walk = (n: PlanNode) => {
    if (SCANS.has(n["Node Type"])) {
      const loops = n["Actual Loops"] ?? 1;
      scans.push({
        node: n["Node Type"], relation: n["Relation Name"] ?? "", index: n["Index Name"] ?? null,
        parallel: n["Parallel Aware"] === true, rows: Math.round((n["Actual Rows"] ?? 0) * loops), loops,
      });
    }
    for (const child of n.Plans ?? []) walk(child);
  };
  walk(doc.Plan);
  return {
    scans, executionMs: doc["Execution Time"], planningMs: doc["Planning Time"],
    jitMs: doc.JIT?.Timing?.Total ?? null, plan: doc,
  };
}

/** One line per relation: its access paths, e.g. "items: Index Scan items_first_seen_idx (233,104 rows)". */
export function describeScans(scans: readonly ScanNode[]): string[] {
  const byRel = new Map<string, string[]>();
  for (const s of scans) {
    if (s.node === "Bitmap Index Scan") continue; // shown through its Bitmap Heap Scan's relation
    const rel = s.relation || "?";
    const what = `${s.parallel ? "Parallel " : ""}${s.node}${s.index ? ` ${s.index}` : ""} (${s.rows.toLocaleString("en")} rows${s.loops > 1 ? `, ${s.loops.toLocaleString("en")} loops` : ""})`;
    byRel.set(rel, [...(byRel.get(rel) ?? []), what]);
  }
  return [...byRel].map(([rel, ws]) => `${rel}: ${ws.join("; ")}`);
}

/** Prints the "table sizes" section: rows, bytes and both per 1M items, index sizes, what the seed stored. */
export async function printSizes(c: Conn, ts: TableSize[], large: number): Promise<void> {
  const items = ts.find((t) => t.table === "items")!.rows;
  const per = 1e6 / items;
  console.log(`\ntable sizes (after VACUUM ANALYZE; per 1M items = scaled by 1,000,000 / ${fmtN(items)} items):`);
  console.log(
    `  ${pad("table", 13)}${"rows".padStart(11)}${"heap".padStart(12)}${"toast".padStart(12)}${"indexes".padStart(12)}${"total".padStart(12)}` +
      `${"B/row".padStart(8)}${"rows/1M items".padStart(15)}${"total/1M items".padStart(16)}`,
  );
  for (const t of ts) {
    console.log(
      `  ${pad(t.table, 13)}${fmtN(t.rows).padStart(11)}${mb(t.heap).padStart(12)}${mb(t.toast).padStart(12)}${mb(t.indexes).padStart(12)}` +
        `${mb(t.total).padStart(12)}${fmtN(t.rows ? t.total / t.rows : 0).padStart(8)}${fmtN(t.rows * per).padStart(15)}${mb(t.total * per).padStart(16)}`,
    );
  }
  const all = ts.reduce((s, t) => s + t.total, 0);
  console.log(`  ${pad("all", 13)}${"".padStart(59)}${mb(all).padStart(12)}${fmtN(all / items).padStart(8)} per item`);
  for (const t of ts.filter((x) => x.indexList.length > 1 || x.rows > large)) {
    console.log(`  ${t.table} indexes: ${t.indexList.map((i) => `${i.name} ${mb(i.bytes)}`).join(", ")}`);
  }
  const { rows } = await c.query<Record<string, string>>(
    `SELECT avg(length(text)) AS chars, avg(octet_length(text)) AS bytes, avg(pg_column_size(text)) AS stored,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY length(text)) AS p50,
            avg(length(title)) AS title
       FROM items`,
  );
  const x = rows[0]!;
  console.log(
    `  items.text seeded: mean ${fmtN(Number(x.chars))} characters (median ${fmtN(Number(x.p50))}), ${fmtN(Number(x.bytes))} bytes UTF-8, ` +
      `${fmtN(Number(x.stored))} bytes as stored (after TOAST compression); title mean ${fmtN(Number(x.title))} characters`,
  );
  const shape = await c.query<Record<string, string>>(
    `SELECT count(*) FILTER (WHERE copies = 1) AS s1, count(*) FILTER (WHERE copies BETWEEN 2 AND 9) AS s2,
            count(*) FILTER (WHERE copies >= 10) AS s10, sum(copies) FILTER (WHERE copies >= 10) AS i10, count(*) AS n,
            sum(copies) AS items, max(copies) AS max
       FROM stories WHERE copies > 0`,
  );
  const delay = await c.query<Record<string, string>>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) / 60 AS p50, percentile_cont(0.9) WITHIN GROUP (ORDER BY d) / 60 AS p90,
            (SELECT avg((published_at IS NULL)::int) FROM items) AS undated
       FROM (SELECT EXTRACT(EPOCH FROM COALESCE(i.published_at, i.first_seen_at) - COALESCE(k.published_at, k.first_seen_at)) AS d
               FROM story_items si JOIN items i ON i.id = si.item_id JOIN stories s ON s.id = si.story_id
               JOIN items k ON k.id = s.canonical_item_id WHERE i.id <> k.id) x`,
  );
  const sh = shape.rows[0]!;
  const dl = delay.rows[0]!;
  const pct = (x: string, of: string) => `${((100 * Number(x)) / Number(of)).toFixed(1)}%`;
  console.log(
    `  stories seeded: ${pct(sh.s1!, sh.n!)} with 1 copy, ${pct(sh.s2!, sh.n!)} with 2–9, ${pct(sh.s10!, sh.n!)} with 10–${sh.max} ` +
      `(holding ${pct(sh.i10!, sh.items!)} of the copies); a copy's delay after its story's canonical copy: median ` +
      `${Number(dl.p50).toFixed(1)} min, p90 ${Number(dl.p90).toFixed(1)} min; undated items ${(100 * Number(dl.undated)).toFixed(1)}%`,
  );
  const corr = await c.query<{ tablename: string; correlation: number }>(
    `SELECT tablename, correlation FROM pg_stats
      WHERE schemaname = 'public' AND attname = CASE tablename WHEN 'story_items' THEN 'item_id' ELSE 'id' END
        AND tablename IN ('items', 'story_items', 'stories', 'fetches') ORDER BY tablename`,
  );
  console.log(
    `  rows in arrival order (correlation of the id with the physical order, 1 = in order): ` +
      corr.rows.map((r) => `${r.tablename} ${r.correlation.toFixed(3)}`).join(", "),
  );
  const f = await c.query<{ outcome: string; n: string; body: string | null }>(
    `SELECT outcome, count(*) AS n, avg(pg_column_size(body_gzip)) AS body FROM fetches GROUP BY 1 ORDER BY 1`,
  );
  console.log(
    `  fetches by outcome: ${f.rows.map((r) => `${r.outcome} ${fmtN(Number(r.n))}${r.body ? ` (body ${fmtN(Number(r.body))} B stored)` : ""}`).join(", ")}`,
  );
}

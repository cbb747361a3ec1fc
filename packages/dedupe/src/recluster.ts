/**
 * `replay items`: stored items through dedupe again, page by page.
 *
 * Plain replay (a re-delivery): each item of the window is cleaned and fingerprinted
 * again from its stored text with today's rules, settings and learned chrome (read,
 * not counted again); its stored text and simhash are rewritten when they change.
 * It keeps its story, as `assign` keeps the story of a ref the index already holds,
 * except that where the live index holds it in another story Postgres knows (a
 * merge Redis recorded and Postgres missed), Postgres follows the index. The index
 * entries are brought up to date; items the index no longer holds are not matched
 * afresh (against an index that has lost their neighbours that would split their
 * stories) nor added: that is `dedupe rebuild-index`.
 *
 * Recluster: the stories of the window are computed again from scratch in a scratch
 * index (its own Redis prefix): first the items within the dedupe window around it,
 * with the stories they have (they keep them: they are context), then the window's
 * items in id order, assigned with today's settings as live dedupe would. Each
 * cluster then gets a story: the outside story it joined, else the story most of its
 * items come from (each story to one cluster), else a story of its own; the items
 * are moved in one transaction per page and the live index follows.
 */
import { createHash } from "node:crypto";
import type { ItemPayload } from "@newsfeed/jobs";
import {
  applyItemChanges, contextItems, countContextItems, countWindowItems, storiesByKey, storiesWithItemsOutside, windowItems,
  type Db, type ItemChange, type ItemWindow, type StoredItem, type StoryRef,
} from "@newsfeed/store";
import { toSigned64 } from "./fingerprint/simhash.ts";
import type { FingerprintIndex, IndexEntry, LoadEntry } from "./index/fingerprint-index.ts";
import { prepareItem, type DedupeSettings, type PreparedItem } from "./pipeline.ts";
import { chromeKeys } from "./text/chrome.ts";
import { cleanParagraphs } from "./text/clean.ts";

export interface ReplayItemsDeps {
  db: Db;
  /** The live index. */
  index: FingerprintIndex;
  settings: DedupeSettings;
  /** An empty index under a prefix of its own, same options as the live one: required to recluster. */
  scratch?: FingerprintIndex;
}

export interface ReplayItemsOptions extends ItemWindow {
  recluster?: boolean;
  /** Compute and count; write nothing to Postgres nor to the live index. */
  dryRun?: boolean;
  /** Items per page and per transaction (default 500). */
  pageSize?: number;
  /** The dedupe window (ms): a recluster loads the items this close to the window as context. */
  windowMs: number;
  onProgress?: (p: ReplayProgress) => void;
}

export interface ReplayProgress {
  /** replay: plain replay; context, cluster, write: the three passes of a recluster. */
  phase: "replay" | "context" | "cluster" | "write";
  done: number;
  total: number;
  updated: number;
  failed: number;
}

/** How the stories of the window's items changed (see planClusters). */
export interface StoryChanges {
  /** Stories the window's items were in before, and are in after. */
  before: number;
  after: number;
  /** Stories whose members are the same set after. */
  stayed: number;
  /** Stories whose members are now in two or more stories. */
  split: number;
  /** Stories (after) whose members come from two or more stories. */
  merged: number;
  /** Stories created for clusters no story had. */
  created: number;
  /** Stories left without items (marked merged into the story that took them all, else kept with no copies). */
  emptied: number;
}

export interface ReplayItemsResult {
  /** Items of the window read. */
  read: number;
  /** Always 0: the items are stored already. */
  new: number;
  /** Items moved to another story or whose stored text or simhash changed (would, on a dry run). */
  updated: number;
  unchanged: number;
  /** Items of pages that failed (left as they were). */
  failed: number;
  dryRun: boolean;
  /** Of the updated items: moved to another story; text or simhash rewritten. */
  moved: number;
  rewritten: number;
  /** Live index entries rewritten (0 on a dry run). */
  indexUpdated: number;
  /** With recluster. */
  stories?: StoryChanges;
  /** The first few errors, one line each. */
  errors: string[];
}

const MAX_ERRORS = 5;
const DERIVED_KEYS = 3;

/** Replays the window's items (see the module comment); one transaction per page. */
export async function replayItems(deps: ReplayItemsDeps, opts: ReplayItemsOptions): Promise<ReplayItemsResult> {
  const res: ReplayItemsResult = {
    read: 0, new: 0, updated: 0, unchanged: 0, failed: 0, dryRun: opts.dryRun === true, moved: 0, rewritten: 0,
    indexUpdated: 0, errors: [],
  };
  const run = new Run(deps, opts, res);
  if (opts.recluster) await run.recluster();
  else await run.plain();
  res.unchanged = res.read - res.updated - res.failed;
  return res;
}

class Run {
  private readonly chrome: ChromeCache;
  private readonly pageSize: number;
  private readonly window: ItemWindow;
  /** Items of pages that failed: counted once, left as they were. */
  private readonly failedIds = new Set<number>();

  constructor(
    private readonly deps: ReplayItemsDeps,
    private readonly opts: ReplayItemsOptions,
    private readonly res: ReplayItemsResult,
  ) {
    this.chrome = new ChromeCache(deps.index, deps.settings.chromeMinItems ?? 0);
    this.pageSize = opts.pageSize ?? 500;
    this.window = { since: opts.since, until: opts.until };
  }

  private fail(err: unknown, items: number): void {
    this.res.failed += items;
    if (this.res.errors.length < MAX_ERRORS) this.res.errors.push(((err as Error).message ?? String(err)).split("\n")[0]!);
  }

  private progress(phase: ReplayProgress["phase"], done: number, total: number): void {
    this.opts.onProgress?.({ phase, done, total, updated: this.res.updated, failed: this.res.failed });
  }

  /**
   * Pages of the window in id order (up to maxId); `fn` handles one. A page that throws
   * counts as failed (its items not failed before) and the run goes on; a page that
   * cannot be read ends the run (the database is gone: nothing else would work either).
   */
  private async pages(
    w: { maxId: number; total: number },
    phase: ReplayProgress["phase"],
    fn: (rows: StoredItem[]) => Promise<void>,
  ): Promise<void> {
    let afterId = 0;
    let done = 0;
    for (;;) {
      const rows = await windowItems(this.deps.db, { ...this.window, afterId, limit: this.pageSize, maxId: w.maxId });
      if (rows.length === 0) return;
      if (phase === "replay" || phase === "write") this.res.read += rows.length;
      try {
        await fn(rows);
      } catch (err) {
        const fresh = rows.filter((r) => !this.failedIds.has(r.id));
        for (const r of fresh) this.failedIds.add(r.id);
        this.fail(err, fresh.length);
      }
      done += rows.length;
      afterId = rows[rows.length - 1]!.id;
      this.progress(phase, done, w.total);
    }
  }

  /** Cleans and fingerprints stored items again, with each feed's learned chrome. */
  private async prepare(rows: readonly StoredItem[]): Promise<PreparedItem[]> {
    const paragraphs = rows.map((r) => cleanParagraphs(r.text));
    const chrome = await this.chrome.learned(rows.map((r, i) => ({ feedId: r.feedId, keys: chromeKeys(paragraphs[i]!) })));
    return rows.map((r, i) => prepareItem(payloadOf(r), this.deps.settings, paragraphs[i], chrome.get(r.feedId)));
  }

  /** Counts one page's changes, and writes them (Postgres, then the live index) unless a dry run. */
  private async write(rows: readonly StoredItem[], prepared: readonly PreparedItem[], changes: ItemChange[], mergeInto: Map<number, string>) {
    const moved = changes.filter((c, i) => c.storyKey !== rows[i]!.storyKey);
    const rewritten = changes.filter((c, i) => c.text !== rows[i]!.text || c.simhash !== rows[i]!.simhash);
    const changed = changes.filter((c) => moved.includes(c) || rewritten.includes(c));
    if (!this.opts.dryRun) {
      if (changed.length) await applyItemChanges(this.deps.db, changed, { mergeInto });
      // The live index follows Postgres: the stories' keys are no longer aliases, the entries it holds are rewritten.
      if (this.opts.recluster) await this.deps.index.dropAliases([...new Set(changes.map((c) => c.storyKey))]);
      const refreshed = await this.deps.index.refresh(
        prepared.map((p, i): LoadEntry => ({
          ...entryOf(p), storyKey: changes[i]!.storyKey, distance: changes[i]!.distance, similarity: changes[i]!.similarity,
        })),
      );
      this.res.indexUpdated += refreshed.updated;
    }
    this.res.updated += changed.length;
    this.res.moved += moved.length;
    this.res.rewritten += rewritten.length;
  }

  async plain(): Promise<void> {
    const w = await countWindowItems(this.deps.db, this.window);
    this.progress("replay", 0, w.count);
    await this.pages({ maxId: w.maxId, total: w.count }, "replay", async (rows) => {
      const prepared = await this.prepare(rows);
      const found = await this.deps.index.lookup(prepared.map(entryOf));
      const other = [...new Set(found.flatMap((f, i) => (f && f.storyKey !== rows[i]!.storyKey ? [f.storyKey] : [])))];
      const known = await storiesByKey(this.deps.db, other);
      const changes = rows.map((r, i): ItemChange => {
        const f = found[i];
        const s = f ? known.get(f.storyKey) : undefined;
        const follow = f && s && s.survivorId !== r.storyId;
        return {
          itemId: r.id, storyKey: follow ? s.survivorKey : r.storyKey, distance: follow ? f.distance : r.distance,
          similarity: follow ? f.similarity : r.similarity, text: prepared[i]!.doc.text, simhash: toSigned64(prepared[i]!.doc.fp),
        };
      });
      // A story this page empties was merged into the one story its items went to, if one.
      const dest = new Map<number, Set<string>>();
      changes.forEach((c, i) => {
        if (c.storyKey !== rows[i]!.storyKey) dest.set(rows[i]!.storyId, (dest.get(rows[i]!.storyId) ?? new Set()).add(c.storyKey));
      });
      const mergeInto = new Map([...dest].filter(([, keys]) => keys.size === 1).map(([id, keys]) => [id, [...keys][0]!]));
      await this.write(rows, prepared, changes, mergeInto);
    });
  }

  async recluster(): Promise<void> {
    const scratch = this.deps.scratch;
    if (!scratch) throw new Error("recluster needs a scratch index");
    const db = this.deps.db;

    const w = await countWindowItems(db, this.window);
    if (w.count === 0) {
      this.res.stories = { before: 0, after: 0, stayed: 0, split: 0, merged: 0, created: 0, emptied: 0 };
      return;
    }

    // 1. Context: the items within the dedupe window around it keep their stories.
    const ctxTotal = await countContextItems(db, { ...this.window, marginMs: this.opts.windowMs });
    const ctxStories = new Map<number, string>();
    let afterId = 0;
    let done = 0;
    this.progress("context", 0, ctxTotal);
    for (;;) {
      const rows = await contextItems(db, { ...this.window, marginMs: this.opts.windowMs, afterId, limit: this.pageSize });
      if (rows.length === 0) break;
      const prepared = await this.prepare(rows);
      await scratch.load(prepared.map((p, i) => {
        const r = rows[i]!;
        ctxStories.set(r.storyId, r.storyKey);
        return { ...entryOf(p), storyKey: contextKey(r.storyId), distance: r.distance, similarity: r.similarity };
      }));
      afterId = rows[rows.length - 1]!.id;
      done += rows.length;
      this.progress("context", done, ctxTotal);
    }

    // 2. The window's items, assigned afresh in id order.
    const assigned = new Map<string, Map<number, number>>();
    const oldKeys = new Map<number, string>();
    this.progress("cluster", 0, w.count);
    await this.pages({ maxId: w.maxId, total: w.count }, "cluster", async (rows) => {
      const prepared = await this.prepare(rows);
      // No feed and no chrome keys: the scratch index counts no chrome.
      const out = await scratch.assign(prepared.map(entryOf));
      out.forEach((a, i) => {
        const r = rows[i]!;
        const byStory = assigned.get(a.storyKey) ?? new Map<number, number>();
        byStory.set(r.storyId, (byStory.get(r.storyId) ?? 0) + 1);
        assigned.set(a.storyKey, byStory);
        oldKeys.set(r.storyId, r.storyKey);
      });
    });

    // 3. The plan: a story for every cluster.
    const roots = await scratch.roots([...assigned.keys(), ...[...ctxStories.keys()].map(contextKey)]);
    const clusters = new Map<string, Map<number, number>>();
    for (const [key, byStory] of assigned) {
      const root = roots.get(key) ?? key;
      const m = clusters.get(root) ?? new Map<number, number>();
      for (const [sid, n] of byStory) m.set(sid, (m.get(sid) ?? 0) + n);
      clusters.set(root, m);
    }
    const pinned = new Map<string, { id: number; key: string }>();
    for (const [sid, key] of [...ctxStories].sort((a, b) => a[0] - b[0])) {
      const root = roots.get(contextKey(sid))!;
      if (clusters.has(root) && !pinned.has(root)) pinned.set(root, { id: sid, key });
    }
    const outside = await storiesWithItemsOutside(db, [...oldKeys.keys()], this.window);
    const free = [...clusters.keys()].filter((k) => !pinned.has(k));
    const candidates = free.flatMap((k) => keyCandidates(k));
    const existing = new Map<string, StoryRef>();
    for (let i = 0; i < candidates.length; i += 5_000) {
      for (const [k, v] of await storiesByKey(db, candidates.slice(i, i + 5_000))) existing.set(k, v);
    }
    const plan = planClusters({ clusters, pinned, outside, oldKeys, existing });
    this.res.stories = plan.changes;

    // 4. Write page by page: each item to its cluster's story.
    this.progress("write", 0, w.count);
    await this.pages({ maxId: w.maxId, total: w.count }, "write", async (page) => {
      // Items a failed page of the clustering pass left out stay as they are.
      const some = page.filter((r) => !this.failedIds.has(r.id));
      const prepared0 = await this.prepare(some);
      const found0 = await scratch.lookup(prepared0.map(entryOf));
      const keep = some.map((_, i) => found0[i] !== null && plan.target.has(found0[i]!.storyKey));
      const lost = some.filter((_, i) => !keep[i]);
      if (lost.length) {
        // Not clustered: come into the window during the replay (their time changed).
        for (const r of lost) this.failedIds.add(r.id);
        this.fail(new Error(`${lost.length} items were not clustered (they entered the window during the replay)`), lost.length);
      }
      const rows = some.filter((_, i) => keep[i]);
      const prepared = prepared0.filter((_, i) => keep[i]);
      const found = found0.filter((_, i) => keep[i]);
      const changes = rows.map((r, i): ItemChange => {
        const f = found[i]!;
        const t = plan.target.get(f.storyKey)!;
        const stays = t.key === r.storyKey;
        return {
          itemId: r.id, storyKey: t.key, distance: stays ? r.distance : f.distance, similarity: stays ? r.similarity : f.similarity,
          text: prepared[i]!.doc.text, simhash: toSigned64(prepared[i]!.doc.fp),
        };
      });
      const mergeInto = new Map<number, string>();
      for (const r of rows) if (plan.mergeInto.has(r.storyId)) mergeInto.set(r.storyId, plan.mergeInto.get(r.storyId)!);
      await this.write(rows, prepared, changes, mergeInto);
    });
  }
}

/** The payload dedupe would have received, rebuilt from the stored row (the body is the stored text). */
function payloadOf(r: StoredItem): ItemPayload {
  return {
    feedId: r.feedId, identityKey: r.identityKey, guid: r.guid, url: r.url, canonicalUrl: r.canonicalUrl, title: r.title,
    content: r.text, publishedAt: r.publishedAt?.toISOString() ?? null, seenAt: r.firstSeenAt.toISOString(),
    contentHash: r.contentHash,
  };
}

const entryOf = (p: PreparedItem): IndexEntry => ({
  ref: p.ref, ts: p.ts, fp: p.doc.fp, sketch: p.doc.sketch, shingles: p.doc.shingles, numbers: p.doc.numbers,
});

/** A context story's key in the scratch index: never a window item's ref (those are 16 characters). */
export const contextKey = (storyId: number): string => `c${storyId.toString(36)}`;

/** Another key for a cluster whose natural key is taken: deterministic, so a second run finds the same. */
export const derivedKey = (key: string): string =>
  createHash("sha1").update(`recluster\u0000${key}`).digest("base64url").slice(0, 16);

/** A cluster's key and the keys tried after it, in order. */
export function keyCandidates(key: string): string[] {
  const out = [key];
  for (let i = 0; i < DERIVED_KEYS; i++) out.push(derivedKey(out[out.length - 1]!));
  return out;
}

export interface ClusterPlanInput {
  /** Per cluster (its root key in the scratch index): the stories its window items were in, with how many. */
  clusters: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** Clusters that joined a story of items outside the window: that story. */
  pinned: ReadonlyMap<string, { id: number; key: string }>;
  /** Stories (before) that also hold items outside the window: they keep those. */
  outside: ReadonlySet<number>;
  /** Key of each story the window's items were in. */
  oldKeys: ReadonlyMap<number, string>;
  /** The stories found by the keys of keyCandidates(cluster) for the clusters not pinned. */
  existing: ReadonlyMap<string, Pick<StoryRef, "id" | "mergedIntoId" | "hasMembers">>;
}

export interface ClusterPlan {
  /** The story of each cluster; id null: to be created with this key. */
  target: Map<string, { key: string; id: number | null }>;
  /** Stories left without items whose items all went to one story: its key. */
  mergeInto: Map<number, string>;
  changes: StoryChanges;
}

/**
 * Gives every cluster a story (pure):
 * 1. a cluster that joined a story of items outside the window goes to that story;
 * 2. then, largest overlap first (ties: lower story id, then cluster key), a cluster takes
 *    the story most of its items come from, if no other cluster took it and the story has
 *    no items outside the window (those stay where they are);
 * 3. the others get their own key (their founder's ref, or a key derived from it when a
 *    story that cannot be reused holds it): a story that exists with that key is reused
 *    when it is free (no items, or only window items, and not taken), else created.
 *
 * Counts, over the stories the window's items were in before (S) and are in after (T),
 * where a story's items outside the window stay in it: S stayed when its items are all
 * in S after and S holds no others; S split when its items are in two or more stories
 * after; T merged when its items come from two or more stories.
 */
export function planClusters(input: ClusterPlanInput): ClusterPlan {
  const { clusters, pinned, outside, oldKeys, existing } = input;
  const target = new Map<string, { key: string; id: number | null }>();
  const claimed = new Set<number>();
  const usedKeys = new Set<string>();
  const take = (cluster: string, key: string, id: number | null) => {
    target.set(cluster, { key, id });
    usedKeys.add(key);
    if (id !== null) claimed.add(id);
  };
  for (const [cluster, story] of [...pinned].sort(([a], [b]) => (a < b ? -1 : 1))) take(cluster, story.key, story.id);
  const pairs = [...clusters].flatMap(([cluster, byStory]) => [...byStory].map(([id, n]) => ({ cluster, id, n })));
  pairs.sort((a, b) => b.n - a.n || a.id - b.id || (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
  for (const { cluster, id } of pairs) {
    if (target.has(cluster) || claimed.has(id) || outside.has(id)) continue;
    take(cluster, oldKeys.get(id)!, id);
  }
  for (const cluster of [...clusters.keys()].sort()) {
    if (target.has(cluster)) continue;
    let done = false;
    for (const key of keyCandidates(cluster)) {
      if (usedKeys.has(key)) continue;
      const s = existing.get(key);
      if (!s) {
        take(cluster, key, null);
      } else if (s.mergedIntoId === null && !claimed.has(s.id) && (!s.hasMembers || (oldKeys.has(s.id) && !outside.has(s.id)))) {
        take(cluster, key, s.id);
      } else {
        continue;
      }
      done = true;
      break;
    }
    if (!done) throw new Error(`no free story key for cluster ${cluster} (tried ${keyCandidates(cluster).join(", ")})`);
  }

  // Where each story's items go (dest) and where each story's items come from (src), by key.
  const dest = new Map<string, Set<string>>();
  const src = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, k: string, v: string) => m.set(k, (m.get(k) ?? new Set()).add(v));
  for (const [cluster, byStory] of clusters) {
    const t = target.get(cluster)!;
    if (t.id !== null && (outside.has(t.id) || pinned.get(cluster)?.id === t.id)) add(src, t.key, t.key);
    for (const id of byStory.keys()) {
      add(dest, oldKeys.get(id)!, t.key);
      add(src, t.key, oldKeys.get(id)!);
    }
  }
  for (const id of outside) if (oldKeys.has(id)) add(dest, oldKeys.get(id)!, oldKeys.get(id)!);
  const mergeInto = new Map<number, string>();
  let emptied = 0;
  for (const [id, key] of oldKeys) {
    if (claimed.has(id) || outside.has(id)) continue;
    emptied++;
    const to = dest.get(key)!;
    if (to.size === 1) mergeInto.set(id, [...to][0]!);
  }
  let stayed = 0;
  let split = 0;
  for (const key of oldKeys.values()) {
    const to = dest.get(key)!;
    if (to.size >= 2) split++;
    else if (to.has(key) && src.get(key)?.size === 1) stayed++;
  }
  const merged = [...src.values()].filter((s) => s.size >= 2).length;
  const targets = new Set([...target.values()].map((t) => t.key));
  return {
    target,
    mergeInto,
    changes: {
      before: oldKeys.size, after: targets.size, stayed, split, merged,
      created: [...target.values()].filter((t) => t.id === null).length, emptied,
    },
  };
}

/** Each feed's learned chrome, read from the live index once per (feed, line) and never counted. */
class ChromeCache {
  private readonly counts = new Map<number, Map<string, number>>();

  constructor(
    private readonly index: FingerprintIndex,
    private readonly min: number,
  ) {}

  async learned(items: readonly { feedId: number; keys: readonly string[] }[]): Promise<Map<number, Set<string>>> {
    const out = new Map<number, Set<string>>();
    if (this.min <= 0) return out;
    const want = new Map<number, Set<string>>();
    for (const it of items) {
      const have = this.counts.get(it.feedId);
      for (const k of it.keys) if (!have?.has(k)) want.set(it.feedId, (want.get(it.feedId) ?? new Set()).add(k));
    }
    if (want.size) {
      const got = await this.index.chromeCounts(new Map([...want].map(([f, keys]) => [f, [...keys]])));
      for (const [feedId, keys] of want) {
        const m = this.counts.get(feedId) ?? new Map<string, number>();
        for (const k of keys) m.set(k, got.get(feedId)?.get(k) ?? 0);
        this.counts.set(feedId, m);
      }
    }
    for (const it of items) {
      if (out.has(it.feedId)) continue;
      const m = this.counts.get(it.feedId);
      out.set(it.feedId, new Set(m ? [...m].filter(([, n]) => n >= this.min).map(([k]) => k) : []));
    }
    return out;
  }
}

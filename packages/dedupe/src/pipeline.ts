import type { Logger } from "pino";
import type { ItemPayload } from "@newsfeed/jobs";
import { saveAssignments, type AssignedItem, type Db, type SaveResult } from "@newsfeed/store";
import { itemRef, prepareDoc, type FingerprintOptions, type PreparedDoc } from "./fingerprint/document.ts";
import { toSigned64 } from "./fingerprint/simhash.ts";
import type { Assignment, FingerprintIndex } from "./index/fingerprint-index.ts";
import { observeSave } from "./metrics.ts";
import { chromeKeys } from "./text/chrome.ts";
import { cleanParagraphs } from "./text/clean.ts";

export interface DedupeSettings extends FingerprintOptions {
  /** Bodies with fewer words than this are fingerprinted with their title. */
  minWords: number;
  /** A short line carried by this many items of one feed is that feed's chrome (0: off). */
  chromeMinItems?: number;
}

export interface DedupeDeps {
  db: Db;
  index: FingerprintIndex;
  settings: DedupeSettings;
}

export interface PreparedItem {
  item: ItemPayload;
  ref: string;
  doc: PreparedDoc;
  ts: number;
}

/**
 * Cleans and fingerprints one item (pure); `paragraphs` may carry its body already
 * cleaned, and `chrome` its feed's learned boilerplate keys.
 */
export function prepareItem(
  item: ItemPayload,
  settings: DedupeSettings,
  paragraphs?: readonly string[],
  chrome?: ReadonlySet<string>,
): PreparedItem {
  const ref = itemRef(item.feedId, item.identityKey);
  // Too short to fingerprint on its own: the title joins in (the stored text stays the body).
  const doc = prepareDoc(paragraphs ?? item.content, settings, { title: item.title, minWords: settings.minWords }, chrome);
  const ts = Date.parse(item.publishedAt ?? item.seenAt);
  return { item, ref, doc, ts };
}

export interface AssignedBatch {
  prepared: PreparedItem[];
  assignments: Assignment[];
}

/** Clean + fingerprint a batch, then one atomic Lua call for candidates and assignment. */
export async function assignBatch(
  deps: Pick<DedupeDeps, "index" | "settings">,
  items: readonly ItemPayload[],
): Promise<AssignedBatch> {
  const paragraphs = items.map((it) => cleanParagraphs(it.content));
  const keys = paragraphs.map(chromeKeys);
  const chrome = await learnedChrome(deps, items, keys);
  const prepared = items.map((it, i) => prepareItem(it, deps.settings, paragraphs[i], chrome.get(it.feedId)));
  const assignments = await deps.index.assign(
    prepared.map((p, i) => ({
      ref: p.ref, ts: p.ts, fp: p.doc.fp, sketch: p.doc.sketch, shingles: p.doc.shingles, numbers: p.doc.numbers,
      feedId: p.item.feedId, chrome: keys[i]!,
    })),
  );
  return { prepared, assignments };
}

/** Per feed of the batch, the chrome keys its own stream has shown often enough. */
async function learnedChrome(
  deps: Pick<DedupeDeps, "index" | "settings">,
  items: readonly ItemPayload[],
  keys: readonly string[][],
): Promise<Map<number, Set<string>>> {
  const min = deps.settings.chromeMinItems ?? 0;
  const out = new Map<number, Set<string>>();
  if (min <= 0) return out;
  const requests = new Map<number, string[]>();
  items.forEach((it, i) => requests.set(it.feedId, [...(requests.get(it.feedId) ?? []), ...keys[i]!]));
  const counts = await deps.index.chromeCounts(requests);
  for (const [feedId, byKey] of counts) {
    out.set(feedId, new Set([...byKey].filter(([, n]) => n >= min).map(([k]) => k)));
  }
  return out;
}

/**
 * The dedupe stage for one batch: assignBatch, then one idempotent transaction
 * in Postgres. The committed decisions are counted in the metrics; with a logger,
 * each item's story (storyKey) is logged at debug level and each merge at info.
 */
export async function dedupeBatch(
  deps: DedupeDeps,
  items: readonly ItemPayload[],
  opts: { logger?: Logger } = {},
): Promise<SaveResult> {
  const { prepared, assignments } = await assignBatch(deps, items);
  const rows: AssignedItem[] = prepared.map((p, i) => {
    const a = assignments[i]!;
    return {
      feedId: p.item.feedId,
      identityKey: p.item.identityKey,
      guid: p.item.guid,
      url: p.item.url,
      canonicalUrl: p.item.canonicalUrl,
      title: p.item.title,
      text: p.doc.text,
      publishedAt: p.item.publishedAt ? new Date(p.item.publishedAt) : null,
      seenAt: new Date(p.item.seenAt),
      contentHash: p.item.contentHash,
      simhash: toSigned64(p.doc.fp),
      storyKey: a.storyKey,
      distance: a.distance,
      similarity: a.similarity,
    };
  });
  const merges = prepared.flatMap((p, i) =>
    assignments[i]!.merged.map((from) => ({
      from, into: assignments[i]!.storyKey, feedId: p.item.feedId, identityKey: p.item.identityKey,
    })),
  );
  const saved = await saveAssignments(deps.db, rows, merges);
  observeSave(saved);
  const log = opts.logger;
  if (log?.isLevelEnabled("debug")) {
    prepared.forEach((p, i) => {
      const a = assignments[i]!;
      if (!a.created) return; // already in the index: a re-delivery
      log.debug(
        {
          feedId: p.item.feedId, identityKey: p.item.identityKey, storyKey: a.storyKey,
          decision: a.storyKey === p.ref ? "new_story" : "joined", distance: a.distance, similarity: a.similarity,
        },
        "item assigned",
      );
    });
  }
  for (const m of merges) log?.info({ storyKey: m.into, mergedStoryKey: m.from, feedId: m.feedId, identityKey: m.identityKey }, "stories merged");
  return saved;
}

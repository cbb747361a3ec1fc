import type { ItemPayload } from "@newsfeed/jobs";
import { saveAssignments, type AssignedItem, type Db, type SaveResult } from "@newsfeed/store";
import { itemRef, prepareDoc, type FingerprintOptions, type PreparedDoc } from "./fingerprint/document.ts";
import { toSigned64 } from "./fingerprint/simhash.ts";
import type { Assignment, FingerprintIndex } from "./index/fingerprint-index.ts";

export interface DedupeSettings extends FingerprintOptions {
  /** Bodies with fewer words than this are fingerprinted with their title. */
  minWords: number;
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

/** Cleans and fingerprints one item (pure). */
export function prepareItem(item: ItemPayload, settings: DedupeSettings): PreparedItem {
  const ref = itemRef(item.feedId, item.identityKey);
  // Too short to fingerprint on its own: the title joins in (the stored text stays the body).
  const doc = prepareDoc(item.content, settings, { title: item.title, minWords: settings.minWords });
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
  const prepared = items.map((it) => prepareItem(it, deps.settings));
  const assignments = await deps.index.assign(
    prepared.map((p) => ({
      ref: p.ref, ts: p.ts, fp: p.doc.fp, sketch: p.doc.sketch, shingles: p.doc.shingles, numbers: p.doc.numbers,
    })),
  );
  return { prepared, assignments };
}

/**
 * The dedupe stage for one batch: assignBatch, then one idempotent transaction
 * in Postgres.
 */
export async function dedupeBatch(deps: DedupeDeps, items: readonly ItemPayload[]): Promise<SaveResult> {
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
  return saveAssignments(deps.db, rows, merges);
}

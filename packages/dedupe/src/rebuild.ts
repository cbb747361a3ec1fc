import { itemsForIndex, type Db } from "@newsfeed/store";
import { itemRef, prepareDoc } from "./fingerprint/document.ts";
import type { FingerprintIndex } from "./index/fingerprint-index.ts";
import type { DedupeSettings } from "./pipeline.ts";

export interface RebuildProgress {
  read: number;
  added: number;
}

/**
 * Rebuilds the Redis index from Postgres: every item published (or first seen)
 * since `since` is fingerprinted again from its stored text and put back with the
 * story it belongs to. Safe to run twice; existing entries are overwritten.
 */
export async function rebuildIndex(
  deps: { db: Db; index: FingerprintIndex; settings: DedupeSettings },
  opts: { since: Date; pageSize?: number; onProgress?: (p: RebuildProgress) => void },
): Promise<RebuildProgress> {
  const progress: RebuildProgress = { read: 0, added: 0 };
  let afterId = 0;
  for (;;) {
    const page = await itemsForIndex(deps.db, { since: opts.since, afterId, limit: opts.pageSize ?? 1000 });
    if (page.length === 0) return progress;
    const entries = page.map((it) => {
      const doc = prepareDoc(it.text, deps.settings, { title: it.title, minWords: deps.settings.minWords });
      return {
        ref: itemRef(it.feedId, it.identityKey),
        ts: (it.publishedAt ?? it.firstSeenAt).getTime(),
        fp: doc.fp, sketch: doc.sketch, shingles: doc.shingles, numbers: doc.numbers,
        storyKey: it.storyKey, distance: it.distance, similarity: it.similarity,
      };
    });
    progress.added += await deps.index.load(entries);
    progress.read += page.length;
    afterId = page[page.length - 1]!.id;
    opts.onProgress?.({ ...progress });
  }
}

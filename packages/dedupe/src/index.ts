export { cleanText, cleanParagraphs, htmlToText, normalizeUnicode, stripDateline, words } from "./text/clean.ts";
export {
  shingles, simhash, hamming, toSigned64, fromSigned64, type Fingerprint,
} from "./fingerprint/simhash.ts";
export {
  containment, numberMismatches, SKETCH_SIZE, LEAD_WORDS,
  type NumberSignature,
} from "./fingerprint/sketch.ts";
export { chromeKey, chromeKeys, CHROME_MAX_WORDS } from "./text/chrome.ts";
export { hashTokens, fingerprintHashed, type FastFingerprint } from "./fingerprint/fast.ts";
export { prepareDoc, itemRef, DEFAULT_FINGERPRINT, type FingerprintOptions, type PreparedDoc } from "./fingerprint/document.ts";
export {
  FingerprintIndex, type IndexOptions, type IndexEntry, type LoadEntry, type Assignment,
} from "./index/fingerprint-index.ts";
export { rebuildIndex, type RebuildProgress } from "./rebuild.ts";
export {
  dedupeBatch, assignBatch, prepareItem, type DedupeDeps, type DedupeSettings, type PreparedItem, type AssignedBatch,
} from "./pipeline.ts";
export { createDedupeWorker, type DedupeWorkerOptions } from "./worker.ts";
export { type IndexedRef, type IndexRefreshResult } from "./index/fingerprint-index.ts";
export {
  replayItems, planClusters, keyCandidates, derivedKey, contextKey,
  type ReplayItemsDeps, type ReplayItemsOptions, type ReplayItemsResult, type ReplayProgress, type StoryChanges,
  type ClusterPlanInput, type ClusterPlan,
} from "./recluster.ts";

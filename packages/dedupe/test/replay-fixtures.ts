/**
 * Fixtures for `replay items` tests: small synthetic wire stories (160 words from a
 * seeded pseudo-vocabulary, no figures), each carried by three feeds with edits (a
 * trimmed, reworded copy; an HTML copy with a dateline and a byline), and helpers to
 * store them under deliberately wrong stories.
 */
import { createHash } from "node:crypto";
import type { ItemPayload } from "@newsfeed/jobs";
import { addFeed, saveAssignments, type AssignedItem, type Db } from "@newsfeed/store";
import { prepareItem, toSigned64, type DedupeSettings } from "@newsfeed/dedupe";

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Words of three letter syllables: no digits, which would count as figures. */
const syllable = (n: number) => `${"bdfgklmnprstvz"[n % 14]}${"aeiou"[Math.floor(n / 14) % 5]}`;
const vocab = Array.from({ length: 3000 }, (_, i) => {
  const n = (i * 7919) % 343_000;
  return syllable(n % 70) + syllable(Math.floor(n / 70) % 70) + syllable(Math.floor(n / 4900));
});

/** Four paragraphs of 40 words: long lines, so no line is ever taken for chrome. */
function paragraphs(seed: number): string[] {
  const rand = rng(seed);
  const word = () => vocab[Math.floor(rand() * vocab.length)]!;
  return Array.from({ length: 4 }, () => {
    const w = Array.from({ length: 40 }, word);
    w[0] = w[0]!.charAt(0).toUpperCase() + w[0]!.slice(1);
    return `${w.join(" ")}.`;
  });
}

/** The three copies of story `name`: feed 0 the original, feed 1 trimmed and reworded, feed 2 HTML with dateline and byline. */
export function story(name: string, seed: number, published: Date, feeds: readonly number[]): ItemPayload[] {
  const ps = paragraphs(seed);
  const reworded = ps.slice(0, 3).map((p) => p.split(" ").map((w, i) => (i % 40 === 17 ? vocab[(seed + i) % vocab.length] : w)).join(" "));
  const html = `<p>LONDON (Wire) - ${ps[0]}</p>${ps.slice(1).map((p) => `<p>${p}</p>`).join("")}<p>Reporting by Jane Doe</p>`;
  const bodies = [ps.join("\n\n"), reworded.join("\n\n"), html];
  const titles = [`${name}: the original`, `${name} (reworded)`, `${name} - wire copy`];
  return bodies.map((content, k) => {
    const at = new Date(published.getTime() + k * 20 * 60_000).toISOString();
    return {
      feedId: feeds[k]!, identityKey: `${name}-${k + 1}`, guid: `${name}-${k + 1}`, url: `https://feed${k + 1}.example/${name}`,
      canonicalUrl: null, title: titles[k]!, content, publishedAt: at, seenAt: at,
      contentHash: createHash("sha1").update(`${titles[k]}\u0000${content}`).digest("hex"),
    };
  });
}

/** Adds feeds 1..n (https://feedN.example/rss) and returns their ids. */
export async function addFeeds(db: Db, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let f = 1; f <= n; f++) ids.push((await addFeed(db, { url: `https://feed${f}.example/rss` })).feed.id);
  return ids;
}

/**
 * Stores items as dedupe would have (same cleaned text and simhash) but in the stories
 * given by `storyOf(identityKey)`: a mis-clustering, in one batch.
 */
export async function saveUnder(
  db: Db,
  items: readonly ItemPayload[],
  settings: DedupeSettings,
  storyOf: (identityKey: string) => string,
): Promise<void> {
  const rows: AssignedItem[] = items.map((it) => {
    const p = prepareItem(it, settings);
    return {
      feedId: it.feedId, identityKey: it.identityKey, guid: it.guid, url: it.url, canonicalUrl: it.canonicalUrl,
      title: it.title, text: p.doc.text, publishedAt: it.publishedAt ? new Date(it.publishedAt) : null,
      seenAt: new Date(it.seenAt), contentHash: it.contentHash, simhash: toSigned64(p.doc.fp),
      storyKey: storyOf(it.identityKey), distance: 0, similarity: 1,
    };
  });
  await saveAssignments(db, rows);
}

/** Items grouped by the story they are in now (sorted identity keys, groups sorted). */
export async function partition(pool: Db["$client"]): Promise<string[][]> {
  const { rows } = await pool.query<{ identity_key: string; story_id: string }>(
    `SELECT i.identity_key, si.story_id FROM items i JOIN story_items si ON si.item_id = i.id`,
  );
  const groups = new Map<string, string[]>();
  for (const r of rows) groups.set(r.story_id, [...(groups.get(r.story_id) ?? []), r.identity_key]);
  return [...groups.values()].map((g) => g.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/**
 * A small labelled corpus for dedupe integration tests: wire stories from a
 * seeded pseudo-vocabulary, each republished by outlets with edits (dateline,
 * trimmed ending, chrome, word edits, standfirst), plus a family of templated
 * earnings briefs that share their wording and differ in their figures.
 */
import type { ItemPayload } from "@newsfeed/jobs";

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

export interface CorpusItem extends ItemPayload {
  /** The story the item is a copy of. */
  gold: string;
}

export function corpus(opts: { stories?: number; copies?: number; seed?: number } = {}): CorpusItem[] {
  const rand = rng(opts.seed ?? 11);
  const vocab = Array.from({ length: 4000 }, (_, i) => `${"bcdfghklmnprstvz"[i % 16]}${"aeiou"[(i >> 4) % 5]}${(i * 7919).toString(36)}`);
  const word = () => vocab[Math.floor(rand() * vocab.length)]!;
  const sentence = (n: number) => Array.from({ length: n }, word).join(" ") + ".";
  const t0 = Date.parse("2026-11-20T06:00:00Z");
  const out: CorpusItem[] = [];
  const stories = opts.stories ?? 12;
  const copies = opts.copies ?? 3;
  for (let s = 0; s < stories; s++) {
    const paragraphs = Array.from({ length: 4 + (s % 3) }, () => `${sentence(14)} ${sentence(12)}`);
    const published = t0 + s * 3 * 3_600_000;
    const base = (feedId: number, text: string, delayMin: number, title: string): CorpusItem => ({
      gold: `story-${s}`, feedId, identityKey: `story-${s}-feed-${feedId}`, guid: null, url: null, canonicalUrl: null,
      title, content: text, publishedAt: new Date(published + delayMin * 60_000).toISOString(),
      seenAt: new Date(published + delayMin * 60_000).toISOString(), contentHash: `h-${s}-${feedId}`,
    });
    out.push(base(1, paragraphs.join("\n\n"), 0, `Story ${s}`));
    const edits: ((p: string[]) => string)[] = [
      (p) => [`CITYNAME, Nov 20 (Wire) - ${p[0]}`, ...p.slice(1)].join("\n\n"),
      (p) => p.slice(0, Math.ceil(p.length * 0.6)).join("\n\n"),
      (p) => `<article><p>${p.join("</p><p>")}</p></article><aside class="related"><p>${sentence(8)}</p></aside>`,
      (p) => [`Summary: ${p[0]}`, ...p, "Sign up for our morning newsletter."].join("\n\n"),
      (p) => p.map((x) => x.replace(/^(\S+) (\S+)/, "$2 $1")).join("\n\n"),
    ];
    for (let c = 0; c < copies; c++) {
      out.push(base(2 + c, edits[(s + c) % edits.length]!(paragraphs), 20 + 37 * c, `Copy ${c} of story ${s}`));
    }
  }
  // Templated briefs: different stories with near-identical wording.
  for (let b = 0; b < 5; b++) {
    const shr = 10 + b * 7;
    const text = `Shr ${shr} cts vs ${shr + 3} cts\n\nNet ${100 + b * 31} mln vs ${90 + b * 17} mln\n\nRevs ${400 + b * 53} mln vs ${380 + b * 41} mln\n\nNote: the company reported results for the fourth quarter ended December 31.`;
    out.push({
      gold: `brief-${b}`, feedId: 9, identityKey: `brief-${b}`, guid: null, url: null, canonicalUrl: null,
      title: `COMPANY ${b} 4TH QTR NET`, content: text,
      publishedAt: new Date(t0 + b * 600_000).toISOString(), seenAt: new Date(t0 + b * 600_000).toISOString(),
      contentHash: `brief-${b}`,
    });
  }
  return out.sort((x, y) => Date.parse(x.publishedAt!) - Date.parse(y.publishedAt!));
}

/** A partition as a sorted list of sorted groups, for comparisons. */
export function partition(assign: Map<string, string>): string[][] {
  const groups = new Map<string, string[]>();
  for (const [id, g] of assign) groups.set(g, [...(groups.get(g) ?? []), id]);
  return [...groups.values()].map((g) => g.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

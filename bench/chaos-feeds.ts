/**
 * The chaos bench's workload: F local RSS feeds × I items drawn from a pool of wire stories
 * (about `copies` copies each, lightly edited per outlet, as bench/e2e.ts builds them), revealed
 * over time: item i of feed f appears at revealMs × (i + f/F) / I after the server's clock starts,
 * and a feed shows every item revealed so far (so a late poll still finds every item: the end
 * state does not depend on when polls happened). Stories are random texts over a 5,000-word
 * vocabulary: any two stories share almost no 5-word shingle, so whatever the arrival order the
 * clusters are the generator's stories (the ground truth every run is also checked against).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { article, rng, vocabulary } from "./lib.ts";

export interface Workload {
  feeds: number;
  items: number;
  /** Per feed, per item: the XML of the item. */
  xml: string[][];
  /** The ground truth: per story index, its copies as "<feed path>|guid:<guid>". */
  clusters: Map<number, string[]>;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
export const feedPath = (f: number) => `/f/${f}.xml`;

export function buildWorkload(seed: number, F: number, I: number, words: number, copies: number): Workload {
  const rand = rng(seed);
  const vocab = vocabulary(5000, rand);
  const N = F * I;
  const stories = Math.max(1, Math.ceil(N / copies));
  const pool = Array.from({ length: stories }, () => article(vocab, words, rand));
  const xml: string[][] = [];
  const clusters = new Map<number, string[]>();
  for (let f = 0; f < F; f++) {
    const items: string[] = [];
    for (let i = 0; i < I; i++) {
      // Every story is drawn at least once (the first `stories` slots), the rest at random.
      const slot = i * F + f;
      const s = slot < stories ? slot : Math.floor(rand() * stories);
      const paras = [...pool[s]!];
      if (f % 2) paras[0] = `CITY, Nov 27 (Wire) - ${paras[0]}`;
      if (f % 3 === 0) paras.push(`Follow outlet ${f} for more.`);
      const guid = `outlet${f}-${i}`;
      const published = new Date(Date.UTC(2026, 10, 27, 0, 0) + (i * F + f) * 1000).toUTCString();
      items.push(`<item><title>Story ${s} at outlet ${f}</title><link>http://outlet${f}.example/${i}</link>
<guid isPermaLink="false">${guid}</guid><pubDate>${published}</pubDate><description>${esc(paras.map((p) => `<p>${p}</p>`).join(""))}</description></item>`);
      const list = clusters.get(s) ?? [];
      list.push(`${feedPath(f)}|guid:${guid}`);
      clusters.set(s, list);
    }
    xml.push(items);
  }
  return { feeds: F, items: I, xml, clusters };
}

export interface FeedServer {
  baseUrl: string;
  /** Starts the reveal clock now. */
  startClock(): void;
  /** Items revealed so far, over all feeds. */
  revealed(): number;
  requests: { ok: number; notModified: number };
  close(): Promise<void>;
}

export async function serveWorkload(w: Workload, revealMs: number): Promise<FeedServer> {
  let t0 = Number.POSITIVE_INFINITY;
  const shown = (f: number) => {
    const t = Date.now() - t0;
    if (t < 0) return 0;
    // item i is revealed at revealMs × (i + f/F) / I
    return Math.max(0, Math.min(w.items, Math.floor((t * w.items) / revealMs - f / w.feeds) + 1));
  };
  const requests = { ok: 0, notModified: 0 };
  const server: Server = createServer((req, res) => {
    const m = /^\/f\/(\d+)\.xml$/.exec(req.url ?? "");
    const f = m ? Number(m[1]) : -1;
    if (!(f >= 0 && f < w.feeds)) return void res.writeHead(404).end();
    const k = shown(f);
    const etag = `"${f}-${k}"`;
    if (req.headers["if-none-match"] === etag) {
      requests.notModified++;
      return void res.writeHead(304, { etag }).end();
    }
    requests.ok++;
    const items = w.xml[f]!.slice(0, k).reverse().join("\n");
    res.writeHead(200, { "content-type": "application/rss+xml; charset=utf-8", etag }).end(
      `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Outlet ${f}</title><link>http://outlet${f}.example/</link>
${items}</channel></rss>`,
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    startClock: () => void (t0 = Date.now()),
    revealed: () => {
      let n = 0;
      for (let f = 0; f < w.feeds; f++) n += shown(f);
      return n;
    },
    requests,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

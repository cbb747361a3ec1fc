/**
 * The publisher side of `pnpm bench:poll`, in a process of its own: HOSTS
 * listeners on 127.0.0.1 (one port each: a host to the per-host budget), each
 * serving /feed/<n>. Feed n behaves by n:
 *   n % 1000 == 999  429 with Retry-After: 5
 *   n % 100  == 99   slow: answers after 2 s
 *   n % 100  >= 95   500
 *   n % 100  >= 85   a new item on every request (200, a new ETag)
 *   otherwise        steady: 304 when If-None-Match matches, else 200
 * Prints {"ports":[...]} on stdout once listening; counts requests by kind on SIGUSR2 → stdout.
 */
import { createServer } from "node:http";

const HOSTS = Number(process.argv[2] ?? 100);
const counts = { ok: 0, notModified: 0, error: 0, limited: 0, slow: 0 };
const served = new Map();

const rss = (n, k) => {
  let items = "";
  for (let i = Math.max(0, k - 5); i < k; i++) {
    items += `<item><guid>f${n}-i${i}</guid><title>Story ${i} of feed ${n}</title><link>http://example.test/${n}/${i}</link><description>Item ${i} of feed ${n}: a short summary of the story.</description><pubDate>Fri, 27 Nov 2026 12:00:00 GMT</pubDate></item>`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Feed ${n}</title><link>http://example.test/${n}</link>${items}</channel></rss>`;
};

function handle(req, res) {
  const m = /^\/feed\/(\d+)$/.exec(req.url ?? "");
  if (!m) {
    res.writeHead(404);
    res.end();
    return;
  }
  const n = Number(m[1]);
  if (n % 1000 === 999) {
    counts.limited++;
    res.writeHead(429, { "retry-after": "5" });
    res.end();
    return;
  }
  if (n % 100 === 99) {
    counts.slow++;
    setTimeout(() => {
      res.writeHead(200, { "content-type": "application/rss+xml", etag: `"${n}-slow"` });
      res.end(rss(n, 5));
    }, 2000);
    return;
  }
  if (n % 100 >= 95) {
    counts.error++;
    res.writeHead(500);
    res.end("internal error");
    return;
  }
  if (n % 100 >= 85) {
    const k = (served.get(n) ?? 5) + 1;
    served.set(n, k);
    counts.ok++;
    res.writeHead(200, { "content-type": "application/rss+xml", etag: `"${n}-${k}"` });
    res.end(rss(n, k));
    return;
  }
  if (req.headers["if-none-match"] === `"${n}-v1"`) {
    counts.notModified++;
    res.writeHead(304, { etag: `"${n}-v1"` });
    res.end();
    return;
  }
  counts.ok++;
  res.writeHead(200, { "content-type": "application/rss+xml", etag: `"${n}-v1"` });
  res.end(rss(n, 5));
}

const ports = [];
for (let i = 0; i < HOSTS; i++) {
  const server = createServer({ keepAliveTimeout: 60_000 }, handle);
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  ports.push(server.address().port);
}
process.on("SIGUSR2", () => process.stdout.write(`${JSON.stringify({ counts })}\n`));
process.stdout.write(`${JSON.stringify({ ports })}\n`);

/**
 * conditionalGet against local servers playing misbehaving publishers: one test
 * per rule of docs/ingest.md ("HTTP: redirects, limits and the SSRF guard").
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { brotliCompressSync, createGzip, deflateSync, gzipSync } from "node:zlib";
import type { LookupAddress } from "node:dns";
import { afterEach, describe, expect, it } from "vitest";
import { IngestError } from "../src/errors.ts";
import { closeHttp, conditionalGet, type HttpLimits, type HttpResult } from "../src/http/get.ts";

const FEED = '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title></channel></rss>';
const UA = "newsfeed-test/1.0 (+https://example.test/bot)";

interface TestServer {
  origin: string;
  port: number;
  /** Requests seen, as "METHOD path". */
  hits: string[];
  /** Last request's headers. */
  last: () => IncomingMessage["headers"];
  connections: () => number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return (server.address() as AddressInfo).port;
}

/** An HTTP server on 127.0.0.1 running `handler`, recording what it saw. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, srv: TestServer) => void): Promise<TestServer> {
  let lastHeaders: IncomingMessage["headers"] = {};
  let connections = 0;
  const srv: TestServer = { origin: "", port: 0, hits: [], last: () => lastHeaders, connections: () => connections };
  const server = createServer((req, res) => {
    srv.hits.push(`${req.method} ${req.url}`);
    lastHeaders = req.headers;
    handler(req, res, srv);
  });
  server.on("connection", () => connections++);
  srv.port = await listen(server);
  srv.origin = `http://127.0.0.1:${srv.port}`;
  return srv;
}

/** A TCP server that accepts connections and never says a word. */
async function silentServer(): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server = createTcpServer(() => connections++);
  const port = await listen(server);
  return { port, connections: () => connections };
}

/** Limits for one test, with small bounds; its connections are closed after the test. */
function limits(extra: Partial<HttpLimits> = {}): HttpLimits {
  const l: HttpLimits = { timeoutMs: 2_000, maxBytes: 256 * 1024, userAgent: UA, allowPrivate: ["127.0.0.1"], ...extra };
  cleanups.push(() => closeHttp(l));
  return l;
}

async function failure(p: Promise<HttpResult>): Promise<IngestError> {
  const err = await p.then(
    (res) => new Error(`expected a failure, got HTTP ${res.status}`),
    (e: unknown) => e,
  );
  if (!(err instanceof IngestError)) throw err;
  return err;
}

function redirect(res: ServerResponse, status: number, location: string) {
  res.writeHead(status, { location, "content-type": "text/html" });
  res.end(`<a href="${location}">moved</a>`);
}

describe("redirects (rule 6)", () => {
  it("follows an all-permanent chain and reports the new URL", async () => {
    const srv = await serve((req, res) => {
      if (req.url === "/old") return redirect(res, 301, "/older-still");
      if (req.url === "/older-still") return redirect(res, 308, "/feed.xml");
      res.end(FEED);
    });
    const res = await conditionalGet(`${srv.origin}/old`, {}, limits());
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(FEED);
    expect(res.url).toBe(`${srv.origin}/feed.xml`);
    expect(res.permanentUrl).toBe(`${srv.origin}/feed.xml`);
    expect(res.redirects).toEqual([
      { url: `${srv.origin}/older-still`, status: 301 },
      { url: `${srv.origin}/feed.xml`, status: 308 },
    ]);
  });

  it.each([302, 303, 307])("keeps the stored URL when a %i is in the chain", async (temporary) => {
    const srv = await serve((req, res) => {
      if (req.url === "/a") return redirect(res, 301, "/b");
      if (req.url === "/b") return redirect(res, temporary, "/c");
      if (req.url === "/c") return redirect(res, 308, "/feed.xml");
      res.end(FEED);
    });
    const res = await conditionalGet(`${srv.origin}/a`, {}, limits());
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${srv.origin}/feed.xml`);
    expect(res.permanentUrl).toBeNull();
    expect(res.redirects.map((r) => r.status)).toEqual([301, temporary, 308]);
  });

  it("reports no permanent URL without redirects", async () => {
    const srv = await serve((_req, res) => res.end(FEED));
    const res = await conditionalGet(`${srv.origin}/feed.xml`, {}, limits());
    expect(res.redirects).toEqual([]);
    expect(res.permanentUrl).toBeNull();
  });

  it("classifies a redirect loop", async () => {
    const srv = await serve((req, res) => redirect(res, 301, req.url === "/x" ? "/y" : "/x"));
    const err = await failure(conditionalGet(`${srv.origin}/x`, {}, limits()));
    expect(err.code).toBe("redirect_loop");
    expect(srv.hits).toEqual(["GET /x", "GET /y"]);
  });

  it("classifies a redirect to itself as a loop", async () => {
    const srv = await serve((_req, res) => redirect(res, 302, "/self#top"));
    const err = await failure(conditionalGet(`${srv.origin}/self`, {}, limits()));
    expect(err.code).toBe("redirect_loop");
    expect(srv.hits).toHaveLength(1);
  });

  it("stops an endless chain after maxRedirects hops", async () => {
    const srv = await serve((req, res) => redirect(res, 302, `/hop/${Number(req.url!.split("/")[2] ?? 0) + 1}`));
    const err = await failure(conditionalGet(`${srv.origin}/hop/0`, {}, limits({ maxRedirects: 3 })));
    expect(err.code).toBe("too_many_redirects");
    expect(srv.hits).toHaveLength(4);
  });

  it("defaults to 5 hops", async () => {
    const srv = await serve((req, res) => {
      const n = Number(req.url!.split("/")[2]);
      if (n < 5) return redirect(res, 301, `/hop/${n + 1}`);
      if (n === 5) return res.end(FEED);
      return redirect(res, 301, `/hop/${n + 1}`);
    });
    const ok = await conditionalGet(`${srv.origin}/hop/0`, {}, limits());
    expect(ok.redirects).toHaveLength(5);
    expect(ok.permanentUrl).toBe(`${srv.origin}/hop/5`);
    const err = await failure(conditionalGet(`${srv.origin}/hop/6`, {}, limits({ maxRedirects: undefined })));
    expect(err.code).toBe("too_many_redirects");
  });

  it("refuses a redirect to a non-http scheme", async () => {
    const srv = await serve((_req, res) => redirect(res, 301, "file:///etc/passwd"));
    const err = await failure(conditionalGet(`${srv.origin}/feed`, {}, limits()));
    expect(err.code).toBe("invalid_url");
  });
});

describe("SSRF guard (rule 7)", () => {
  it("refuses 127.0.0.1 unless allowed, without connecting", async () => {
    const srv = await serve((_req, res) => res.end(FEED));
    const err = await failure(conditionalGet(`${srv.origin}/feed`, {}, limits({ allowPrivate: undefined })));
    expect(err.code).toBe("blocked_address");
    expect(srv.connections()).toBe(0);
    expect((await conditionalGet(`${srv.origin}/feed`, {}, limits())).status).toBe(200);
  });

  it.each([
    "http://[::ffff:127.0.0.1]:PORT/feed", // IPv4-mapped: "127.0.0.1" does not allow it
    "http://127.0.0.2:PORT/feed", // another loopback address
    "http://localhost:PORT/feed", // resolves (lookup below) to ::1 as well as 127.0.0.1
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/feed",
  ])("re-checks every hop: a redirect to %s is refused", async (target) => {
    const srv = await serve((req, res) => {
      if (req.url === "/feed") return redirect(res, 302, target.replace("PORT", String(srv.port)));
      res.end("secret");
    });
    // A dual-stack hosts file, made deterministic: ::1 is not allowed, so the name is refused.
    const lookup = async (): Promise<LookupAddress[]> => [{ address: "::1", family: 6 }, { address: "127.0.0.1", family: 4 }];
    const err = await failure(conditionalGet(`${srv.origin}/feed`, {}, limits({ lookup })));
    expect(err.code).toBe("blocked_address");
    expect(srv.hits).toEqual(["GET /feed"]);
    expect(srv.connections()).toBe(1);
  });

  it.each([
    "http://0.0.0.0:PORT/",
    "http://0.1.2.3:PORT/",
    "http://[::1]:PORT/",
    "http://[::]:PORT/",
    "http://[::ffff:127.0.0.1]:PORT/",
    "http://[::ffff:7f00:1]:PORT/",
    "http://2130706433:PORT/", // 127.0.0.1 as one number
    "http://0x7f.1:PORT/",
    "http://127.1:PORT/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[fc00::1]/",
    "http://[fe80::1]/",
    "https://[64:ff9b::7f00:1]/",
  ])("refuses the literal %s without connecting", async (template) => {
    const srv = await serve((_req, res) => res.end("secret"));
    // Only the IPv4 loopback literal is allowed; the numeric forms of it are still
    // refused when nothing is allowed.
    const allowPrivate = /2130706433|0x7f|127\.1:/.test(template) ? [] : ["127.0.0.1"];
    const err = await failure(conditionalGet(template.replace("PORT", String(srv.port)), {}, limits({ allowPrivate })));
    expect(err.code).toBe("blocked_address");
    expect(srv.connections()).toBe(0);
  });

  it("checks the resolved address and connects to it, resolving once per connection", async () => {
    const srv = await serve((_req, res) => res.end(FEED));
    const asked: string[] = [];
    const lookup = async (name: string): Promise<LookupAddress[]> => {
      asked.push(name);
      return [{ address: "127.0.0.1", family: 4 }];
    };
    const l = limits({ lookup });
    const url = `http://feed.example.test:${srv.port}/feed.xml`;
    expect((await conditionalGet(url, {}, l)).status).toBe(200);
    // undici hands a kept-alive socket out again one event-loop turn after its response.
    await new Promise((r) => setImmediate(r));
    expect((await conditionalGet(url, {}, l)).status).toBe(200);
    expect(srv.last().host).toBe(`feed.example.test:${srv.port}`);
    expect(asked).toEqual(["feed.example.test"]);
    expect(srv.connections()).toBe(1); // keep-alive: one connection for both polls
  });

  it("refuses a name that resolves to a private address, without connecting", async () => {
    const srv = await serve((_req, res) => res.end("secret"));
    const lookup = async (): Promise<LookupAddress[]> => [{ address: "127.0.0.1", family: 4 }];
    const err = await failure(
      conditionalGet(`http://internal.example.test:${srv.port}/`, {}, limits({ lookup, allowPrivate: [] })),
    );
    expect(err.code).toBe("blocked_address");
    expect(err.message).toContain("internal.example.test (127.0.0.1)");
    expect(srv.connections()).toBe(0);
  });

  it("connects to the address it checked (DNS rebinding)", async () => {
    // The secret service listens on 127.0.0.1, which is not allowed; 127.0.0.2 is.
    // The name answers 127.0.0.2 first, then 127.0.0.1: a guard that checked one
    // resolution and connected with another would reach the secret service.
    const srv = await serve((_req, res) => res.end("secret"));
    let calls = 0;
    const lookup = async (): Promise<LookupAddress[]> => [{ address: calls++ === 0 ? "127.0.0.2" : "127.0.0.1", family: 4 }];
    const err = await failure(
      conditionalGet(`http://rebind.example.test:${srv.port}/`, {}, limits({ lookup, allowPrivate: ["127.0.0.2"] })),
    );
    expect(err.code).toBe("network"); // connected to 127.0.0.2, where nothing listens
    expect(err.message).toContain("ECONNREFUSED");
    expect(calls).toBe(1);
    expect(srv.connections()).toBe(0);
  });

  it("refuses a name when any of its addresses is private", async () => {
    const lookup = async (): Promise<LookupAddress[]> => [
      { address: "93.184.215.14", family: 4 },
      { address: "10.1.2.3", family: 4 },
    ];
    const err = await failure(conditionalGet("http://mixed.example.test/", {}, limits({ lookup, allowPrivate: [] })));
    expect(err.code).toBe("blocked_address");
    expect(err.message).toContain("10.1.2.3");
  });

  it("refuses non-http schemes and credentials", async () => {
    for (const url of ["ftp://example.com/feed", "file:///etc/passwd", "gopher://x/", "not a url", "http://user:pw@example.com/"]) {
      expect((await failure(conditionalGet(url, {}, limits()))).code).toBe("invalid_url");
    }
  });
});

describe("limits (rule 7)", () => {
  it("stops a gzip bomb at the cap", async () => {
    // 64 MiB of zeros, gzipped to about 64 KiB.
    const gz = createGzip({ level: 9 });
    const parts: Buffer[] = [];
    gz.on("data", (c: Buffer) => parts.push(c));
    const zeros = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 64; i++) gz.write(zeros);
    gz.end();
    await once(gz, "end");
    const bomb = Buffer.concat(parts);
    expect(bomb.length).toBeLessThan(256 * 1024);
    const srv = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/rss+xml", "content-encoding": "gzip" });
      res.end(bomb);
    });
    const err = await failure(conditionalGet(`${srv.origin}/feed`, {}, limits({ maxBytes: 1024 * 1024 })));
    expect(err.code).toBe("too_large");
    expect(err.message).toMatch(/decoded body exceeds 1048576/);
  });

  it("stops an endless body at the cap", async () => {
    let written = 0;
    const srv = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/rss+xml" });
      const chunk = Buffer.alloc(16 * 1024, "a");
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
      };
      res.on("drain", pump);
      pump();
    });
    const err = await failure(conditionalGet(`${srv.origin}/feed`, {}, limits({ maxBytes: 200 * 1024 })));
    expect(err.code).toBe("too_large");
    expect(written).toBeLessThan(16 * 1024 * 1024);
  });

  it("refuses a declared Content-Length over the cap before reading", async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { "content-length": String(10 * 1024 * 1024) });
      res.write("x");
    });
    const err = await failure(conditionalGet(`${srv.origin}/feed`, {}, limits({ maxBytes: 1024 })));
    expect(err.code).toBe("too_large");
  });

  it("stops a slowloris body (a byte every 100 ms) at the total timeout", async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/rss+xml" });
      const t = setInterval(() => res.write("<"), 100);
      res.on("close", () => clearInterval(t));
    });
    const started = performance.now();
    const err = await failure(conditionalGet(`${srv.origin}/feed`, {}, limits({ timeoutMs: 700 })));
    expect(err.code).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("stops a slowloris header trickle at the total timeout", async () => {
    let connections = 0;
    const server = createTcpServer((socket) => {
      connections++;
      const bytes = Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nX-Padding: " + "a".repeat(1000));
      let i = 0;
      const t = setInterval(() => (i < bytes.length ? socket.write(bytes.subarray(i, ++i)) : undefined), 100);
      socket.on("close", () => clearInterval(t));
      socket.on("error", () => clearInterval(t));
    });
    const port = await listen(server);
    const started = performance.now();
    const err = await failure(conditionalGet(`http://127.0.0.1:${port}/feed`, {}, limits({ timeoutMs: 700 })));
    expect(err.code).toBe("timeout");
    expect(connections).toBe(1);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("stops at the timeout when the server accepts but never answers", async () => {
    const silent = await silentServer();
    const err = await failure(conditionalGet(`http://127.0.0.1:${silent.port}/feed`, {}, limits({ timeoutMs: 300 })));
    expect(err.code).toBe("timeout");
    expect(silent.connections()).toBe(1);
  });

  it("classifies a connect (TLS handshake) that never completes as connect_timeout", async () => {
    const silent = await silentServer();
    const err = await failure(
      conditionalGet(`https://127.0.0.1:${silent.port}/feed`, {}, limits({ connectTimeoutMs: 200, timeoutMs: 5_000 })),
    );
    expect(err.code).toBe("connect_timeout");
  });

  it("classifies a refused connection as network", async () => {
    const closed = createTcpServer();
    const port = await listen(closed);
    await cleanups.pop()!(); // closes `closed`: its port now refuses connections
    const err = await failure(conditionalGet(`http://127.0.0.1:${port}/feed`, {}, limits()));
    expect(err.code).toBe("network");
    expect(err.message).toContain("ECONNREFUSED");
  });
});

describe("encodings, validators and headers", () => {
  it.each([
    { enc: "br", encode: (b: Buffer) => brotliCompressSync(b) },
    { enc: "deflate", encode: (b: Buffer) => deflateSync(b) },
    { enc: "gzip", encode: (b: Buffer) => gzipSync(b) },
  ])("asks for and decodes $enc", async ({ enc, encode }) => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/rss+xml", "content-encoding": enc });
      res.end(encode(Buffer.from(FEED)));
    });
    const res = await conditionalGet(`${srv.origin}/feed`, {}, limits());
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(FEED);
    expect(res.headers.get("content-type")).toBe("application/rss+xml");
    expect(srv.last()["accept-encoding"]).toBe("gzip, deflate, br");
  });

  it("sends the validators and returns a 304", async () => {
    const srv = await serve((req, res) => {
      if (req.headers["if-none-match"] === '"v1"' && req.headers["if-modified-since"] === "Sat, 28 Feb 2026 10:00:00 GMT") {
        res.writeHead(304, { etag: '"v1"' });
        return res.end();
      }
      res.writeHead(200, { etag: '"v1"' });
      res.end(FEED);
    });
    const url = `${srv.origin}/feed`;
    const fresh = await conditionalGet(url, {}, limits());
    expect(fresh.status).toBe(200);
    expect(srv.last()["if-none-match"]).toBeUndefined();
    const res = await conditionalGet(url, { etag: fresh.headers.get("etag"), lastModified: "Sat, 28 Feb 2026 10:00:00 GMT" }, limits());
    expect(res.status).toBe(304);
    expect(res.body.length).toBe(0);
    expect(res.headers.get("etag")).toBe('"v1"');
  });

  it("sends the User-Agent on every hop", async () => {
    const agents: (string | undefined)[] = [];
    const srv = await serve((req, res) => {
      agents.push(req.headers["user-agent"]);
      if (req.url === "/a") return redirect(res, 302, "/b");
      res.end(FEED);
    });
    await conditionalGet(`${srv.origin}/a`, {}, limits());
    expect(agents).toEqual([UA, UA]);
  });

  it.each([429, 503])("reads Retry-After seconds and HTTP-dates on a %i", async (status) => {
    let value = "120";
    const srv = await serve((_req, res) => {
      res.writeHead(status, { "retry-after": value });
      res.end("slow down");
    });
    const seconds = await conditionalGet(`${srv.origin}/feed`, {}, limits());
    expect(seconds.status).toBe(status);
    expect(seconds.retryAfterMs).toBe(120_000);

    value = new Date(Date.now() + 90_000).toUTCString();
    const date = await conditionalGet(`${srv.origin}/feed`, {}, limits());
    expect(date.retryAfterMs).toBeGreaterThan(85_000);
    expect(date.retryAfterMs).toBeLessThanOrEqual(90_000);

    value = "86400";
    const capped = await conditionalGet(`${srv.origin}/feed`, {}, limits({ maxRetryAfterMs: 3_600_000 }));
    expect(capped.retryAfterMs).toBe(3_600_000);

    value = "whenever";
    expect((await conditionalGet(`${srv.origin}/feed`, {}, limits())).retryAfterMs).toBeNull();
  });

  it("ignores Retry-After on other statuses", async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { "retry-after": "120" });
      res.end(FEED);
    });
    expect((await conditionalGet(`${srv.origin}/feed`, {}, limits())).retryAfterMs).toBeNull();
  });
});

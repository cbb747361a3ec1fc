import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { OUTLETS, renderFeed } from "./outlets.ts";

export interface SampleServer {
  /** e.g. http://127.0.0.1:8089 */
  baseUrl: string;
  /** Feed URL per outlet slug. */
  feedUrls: string[];
  close(): Promise<void>;
}

const EXT = { rss2: "xml", atom: "atom", rdf: "rdf", jsonfeed: "json" } as const;

/** The path of an outlet's feed on the sample server. */
export const samplePath = (slug: string, format: keyof typeof EXT) => `/${slug}/feed.${EXT[format]}`;

/**
 * Serves the sample outlets' feeds over HTTP on 127.0.0.1, with ETag
 * validators (If-None-Match gets a 304). Port 0 picks a free port.
 */
export async function startSampleServer(port = 0, host = "127.0.0.1"): Promise<SampleServer> {
  let baseUrl = "";
  const server: Server = createServer((req, res) => {
    const outlet = OUTLETS.find((o) => req.url === samplePath(o.slug, o.format));
    if (!outlet || req.method !== "GET") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    const { body, contentType } = renderFeed(outlet, baseUrl);
    const etag = `"${createHash("sha1").update(body).digest("hex").slice(0, 16)}"`;
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { "content-type": contentType, etag }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  baseUrl = `http://${host}:${addr.port}`;
  return {
    baseUrl,
    feedUrls: OUTLETS.map((o) => `${baseUrl}${samplePath(o.slug, o.format)}`),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

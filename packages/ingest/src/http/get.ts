/**
 * The bounded, SSRF-guarded conditional GET every feed poll runs. Rules and
 * their tests: docs/ingest.md ("HTTP: redirects, limits and the SSRF guard").
 */
import type { IncomingHttpHeaders } from "node:http";
import { isIP } from "node:net";
import type { Readable } from "node:stream";
import { IngestError } from "../errors.ts";
import { blockedError, createGuardedAgent, type GuardedAgent, type Resolver } from "./agent.ts";
import { decodeContent } from "./decode.ts";
import { parseRetryAfter } from "./retry-after.ts";

/**
 * Bounds and policy of every fetch. Build it once (from the config) and pass the
 * same object each time: its connection pool is kept per object, and its fields
 * are read when that pool is first made, so treat it as immutable.
 */
export interface HttpLimits {
  /** Whole fetch, every redirect hop included: connect, headers and body (ms). */
  timeoutMs: number;
  /** Largest body accepted, bytes: checked on the wire while streaming and again on the decoded size. */
  maxBytes: number;
  /** Sent as User-Agent on every request. */
  userAgent: string;
  /** TCP (and TLS) connect limit per connection, ms. Default: min(timeoutMs, 10 s). */
  connectTimeoutMs?: number;
  /** Redirects followed before "too_many_redirects". Default 5. */
  maxRedirects?: number;
  /**
   * Non-public addresses that may be fetched anyway: IPs ("127.0.0.1"), CIDRs
   * ("10.0.0.0/8") or "*" (guard off). Default: none, every non-public address is refused.
   * An entry matches its own address family only ("127.0.0.1" does not allow "::ffff:127.0.0.1").
   */
  allowPrivate?: readonly string[];
  /** Cap on `retryAfterMs`, ms. Default one day. */
  maxRetryAfterMs?: number;
  /** Resolver for host names (default: dns.lookup with all addresses); for a caching resolver or tests. */
  lookup?: Resolver;
}

export interface Validators {
  etag?: string | null;
  lastModified?: string | null;
}

/** One redirect followed: the redirect's status and the (absolute) URL it pointed to. */
export interface Redirect {
  url: string;
  status: number;
}

export interface HttpResult {
  status: number;
  /** The URL that gave this response, after redirects. */
  url: string;
  headers: Headers;
  /** Decoded (Content-Encoding undone) body. */
  body: Buffer;
  /** Every redirect followed, in order; empty when none. */
  redirects: Redirect[];
  /** The final URL when every hop was permanent (301/308) and it differs from the one asked for; else null. */
  permanentUrl?: string | null;
  /** For 429 and 503: the Retry-After delay in ms (capped), null when absent or unreadable. Null otherwise. */
  retryAfterMs?: number | null;
}

export const DEFAULT_MAX_REDIRECTS = 5;
export const DEFAULT_MAX_RETRY_AFTER_MS = 86_400_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const PERMANENT_STATUSES = new Set([301, 308]);
const ACCEPT =
  "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5";

const agents = new WeakMap<HttpLimits, GuardedAgent>();

/** The agent (connection pool) of one limits object; reuse the object to reuse connections. */
function agentFor(limits: HttpLimits): GuardedAgent {
  let guarded = agents.get(limits);
  if (!guarded) {
    guarded = createGuardedAgent({
      connectTimeoutMs: limits.connectTimeoutMs ?? Math.min(limits.timeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
      timeoutMs: limits.timeoutMs,
      allowPrivate: limits.allowPrivate,
      lookup: limits.lookup,
    });
    agents.set(limits, guarded);
  }
  return guarded;
}

/** Closes the connections kept for `limits` (at shutdown); the next fetch opens new ones. */
export async function closeHttp(limits: HttpLimits): Promise<void> {
  const guarded = agents.get(limits);
  if (!guarded) return;
  agents.delete(limits);
  await guarded.agent.close();
}

/**
 * A bounded conditional GET: sends the validators, follows redirects hop by hop
 * (each one re-checked by the SSRF guard), stops at the total timeout, and stops
 * reading once the body, raw or decoded, passes maxBytes. Non-2xx answers are
 * returned, not thrown; failures throw a classified IngestError.
 */
export async function conditionalGet(url: string, validators: Validators, limits: HttpLimits): Promise<HttpResult> {
  const { agent, allows } = agentFor(limits);
  const maxRedirects = limits.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const headers: Record<string, string> = {
    "user-agent": limits.userAgent,
    accept: ACCEPT,
    "accept-encoding": "gzip, deflate, br",
  };
  if (validators.etag) headers["if-none-match"] = validators.etag;
  if (validators.lastModified) headers["if-modified-since"] = validators.lastModified;

  let current = parseTarget(url);
  const requested = current.href;
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, limits.timeoutMs);
  const redirects: Redirect[] = [];
  const visited = new Set([current.href]);
  let allPermanent = true;
  try {
    for (;;) {
      // An IP literal is refused here, before any connection; names are checked as they resolve.
      const host = bareHost(current.hostname);
      if (isIP(host) && !allows(host)) throw blockedError(host, host);
      const res = await agent.request({
        origin: current.origin,
        path: current.pathname + current.search,
        method: "GET",
        headers,
        signal: ac.signal,
      });
      const status = res.statusCode;
      const location = REDIRECT_STATUSES.has(status) ? first(res.headers.location) : undefined;
      if (location !== undefined) {
        res.body.dump({ limit: 64 * 1024 }).catch(() => {});
        if (redirects.length >= maxRedirects) {
          throw new IngestError("too_many_redirects", `more than ${maxRedirects} redirects from ${requested}`, { status });
        }
        const next = parseTarget(location, current, status);
        if (visited.has(next.href)) {
          throw new IngestError("redirect_loop", `redirect loop: ${current.href} -> ${next.href}`, { status });
        }
        visited.add(next.href);
        redirects.push({ url: next.href, status });
        if (!PERMANENT_STATUSES.has(status)) allPermanent = false;
        current = next;
        continue;
      }
      const declared = Number(first(res.headers["content-length"]));
      if (declared > limits.maxBytes) {
        res.body.destroy();
        throw new IngestError("too_large", `body of ${declared} bytes exceeds ${limits.maxBytes}`, { status });
      }
      const raw = await readCapped(res.body, limits.maxBytes, status);
      const body = await decodeContent(raw, joined(res.headers["content-encoding"]), limits.maxBytes, status);
      const responseHeaders = toHeaders(res.headers);
      const finalUrl = current.href;
      return {
        status,
        url: finalUrl,
        headers: responseHeaders,
        body,
        redirects,
        permanentUrl: redirects.length > 0 && allPermanent && finalUrl !== requested ? finalUrl : null,
        retryAfterMs:
          status === 429 || status === 503
            ? parseRetryAfter(
                responseHeaders.get("retry-after"),
                Date.now(),
                limits.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS,
              )
            : null,
      };
    }
  } catch (cause) {
    throw classify(cause, timedOut, current.href, limits);
  } finally {
    clearTimeout(timer);
  }
}

/** Parses and vets a URL (absolute, or relative to `base`): http(s) only, no credentials, no fragment. */
function parseTarget(text: string, base?: URL, status?: number): URL {
  let u: URL;
  try {
    u = new URL(text, base);
  } catch (cause) {
    const what = base ? "redirect to invalid URL" : "invalid URL";
    throw new IngestError("invalid_url", `${what}: ${oneLine(text)}`, { cause, status });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new IngestError("invalid_url", `unsupported scheme ${oneLine(u.protocol)} in ${oneLine(u.href)}`, { status });
  }
  if (u.username || u.password) {
    throw new IngestError("invalid_url", `credentials in URL are not supported: ${u.host}`, { status });
  }
  u.hash = "";
  return u;
}

/** Collects a body, destroying the stream once more than `max` bytes have arrived. */
function readCapped(body: Readable, max: number, status: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        body.destroy();
        reject(new IngestError("too_large", `body exceeds ${max} bytes`, { status }));
        return;
      }
      chunks.push(chunk);
    });
    body.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    body.once("error", reject);
    body.once("close", () => reject(new Error("body closed before its end")));
  });
}

function classify(cause: unknown, timedOut: boolean, url: string, limits: HttpLimits): IngestError {
  if (cause instanceof IngestError) return cause;
  if (timedOut) return new IngestError("timeout", `timed out after ${limits.timeoutMs} ms fetching ${url}`, { cause });
  const err = cause as { code?: string; message?: string; cause?: { code?: string } };
  switch (err.code) {
    case "UND_ERR_CONNECT_TIMEOUT":
      return new IngestError("connect_timeout", `connect timed out fetching ${url}`, { cause });
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
      return new IngestError("timeout", `timed out fetching ${url}`, { cause });
  }
  const detail = err.code ?? err.cause?.code ?? oneLine(err.message ?? "unknown error");
  return new IngestError("network", `cannot fetch ${url}: ${detail}`, { cause });
}

const bareHost = (h: string) => (h.startsWith("[") ? h.slice(1, -1) : h);
const oneLine = (s: string) => s.replace(/\s+/g, " ").slice(0, 200);
const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const joined = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(", ") : (v ?? null));

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const h = new Headers();
  for (const name in raw) {
    const v = raw[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) h.append(name, one);
    else h.append(name, v);
  }
  return h;
}

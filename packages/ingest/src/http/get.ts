import { IngestError } from "../errors.ts";

export interface HttpLimits {
  /** Whole request, headers and body (ms). */
  timeoutMs: number;
  /** Largest (decompressed) body accepted, bytes. */
  maxBytes: number;
  userAgent: string;
}

export interface Validators {
  etag?: string | null;
  lastModified?: string | null;
}

export interface HttpResult {
  status: number;
  url: string;
  headers: Headers;
  body: Buffer;
}

/**
 * A bounded conditional GET: sends the validators, follows redirects, stops at
 * the timeout, and stops reading once the decompressed body passes maxBytes.
 */
export async function conditionalGet(url: string, validators: Validators, limits: HttpLimits): Promise<HttpResult> {
  const headers: Record<string, string> = {
    "user-agent": limits.userAgent,
    accept: "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
  };
  if (validators.etag) headers["if-none-match"] = validators.etag;
  if (validators.lastModified) headers["if-modified-since"] = validators.lastModified;
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { headers, signal, redirect: "follow" });
  } catch (cause) {
    throw classifyNetworkError(cause, url);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limits.maxBytes) {
          await reader.cancel().catch(() => {});
          throw new IngestError("too_large", `body exceeds ${limits.maxBytes} bytes`, { status: res.status });
        }
        chunks.push(Buffer.from(value));
      }
    }
  } catch (cause) {
    if (cause instanceof IngestError) throw cause;
    throw classifyNetworkError(cause, url);
  }
  return { status: res.status, url: res.url || url, headers: res.headers, body: Buffer.concat(chunks, size) };
}

function classifyNetworkError(cause: unknown, url: string): IngestError {
  const err = cause as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === "TimeoutError" || err.name === "AbortError") {
    return new IngestError("timeout", `timed out fetching ${url}`, { cause });
  }
  if (err.name === "TypeError" && /Invalid URL|unknown scheme|not supported/i.test(err.message ?? "")) {
    return new IngestError("invalid_url", `cannot fetch ${url}: ${err.message}`, { cause });
  }
  const detail = err.cause?.code ?? err.cause?.message ?? err.message ?? "unknown error";
  return new IngestError("network", `cannot fetch ${url}: ${detail}`, { cause });
}

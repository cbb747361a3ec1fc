/**
 * Undoes a response's Content-Encoding (gzip, deflate, br) with the output
 * capped at `maxBytes`: zlib stops inflating once the cap is passed, so a
 * compression bomb costs at most `maxBytes` of memory. Output up to INLINE_BYTES
 * is inflated on the calling thread (cheaper than a thread-pool hop for a
 * typical feed, and it blocks for about a millisecond at most); a larger body is
 * inflated again on libuv's pool, up to the cap.
 */
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { IngestError } from "../errors.ts";

interface Inflater {
  sync: (buf: Buffer, opts: zlib.ZlibOptions) => Buffer;
  async: (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;
}

const inflater = (sync: Inflater["sync"], async: (...a: never[]) => void): Inflater => ({
  sync,
  async: promisify(async) as unknown as Inflater["async"],
});
const GUNZIP = inflater(zlib.gunzipSync, zlib.gunzip);
const INFLATE = inflater(zlib.inflateSync, zlib.inflate);
const INFLATE_RAW = inflater(zlib.inflateRawSync, zlib.inflateRaw);
const BROTLI = inflater(zlib.brotliDecompressSync, zlib.brotliDecompress);

/** Largest output inflated on the calling thread. */
export const INLINE_BYTES = 1024 * 1024;

/** HTTP "deflate" should be zlib-wrapped (RFC 1950) but some servers send a raw stream. */
const isZlibWrapped = (b: Buffer) => b.length >= 2 && (b[0]! & 0x0f) === 8 && ((b[0]! << 8) | b[1]!) % 31 === 0;

function inflaterFor(coding: string, body: Buffer): Inflater | null | undefined {
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return GUNZIP;
    case "deflate":
      return isZlibWrapped(body) ? INFLATE : INFLATE_RAW;
    case "br":
      return BROTLI;
    case "identity":
    case "":
      return null;
    default:
      return undefined;
  }
}

/**
 * Decodes `body` per the Content-Encoding header value (codings applied in order,
 * so undone in reverse). Throws IngestError "too_large" past the cap and
 * "bad_encoding" for an unknown coding or a corrupt stream.
 */
export async function decodeContent(
  body: Buffer,
  contentEncoding: string | null,
  maxBytes: number,
  status?: number,
): Promise<Buffer> {
  if (!contentEncoding || body.length === 0) return body;
  const codings = contentEncoding.toLowerCase().split(",").map((c) => c.trim());
  let out = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    const inflate = inflaterFor(coding, out);
    if (inflate === null) continue;
    if (inflate === undefined) {
      throw new IngestError("bad_encoding", `unsupported content-encoding "${coding.slice(0, 40)}"`, { status });
    }
    try {
      out = await inflateCapped(inflate, out, Math.max(1, maxBytes));
    } catch (cause) {
      if ((cause as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
        throw new IngestError("too_large", `decoded body exceeds ${maxBytes} bytes`, { cause, status });
      }
      const detail = (cause as { code?: string }).code ?? "corrupt stream";
      throw new IngestError("bad_encoding", `cannot decode ${coding} body: ${detail}`, { cause, status });
    }
  }
  return out;
}

async function inflateCapped(inflate: Inflater, input: Buffer, maxBytes: number): Promise<Buffer> {
  const inline = Math.min(maxBytes, INLINE_BYTES);
  try {
    return inflate.sync(input, { maxOutputLength: inline });
  } catch (err) {
    if (inline === maxBytes || (err as { code?: string }).code !== "ERR_BUFFER_TOO_LARGE") throw err;
  }
  return inflate.async(input, { maxOutputLength: maxBytes });
}

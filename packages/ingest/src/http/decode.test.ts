import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { IngestError } from "../errors.ts";
import { decodeContent, INLINE_BYTES } from "./decode.ts";

const text = Buffer.from("<rss><channel><title>Wire</title></channel></rss>".repeat(50));
const code = (e: unknown) => (e instanceof IngestError ? e.code : String(e));

describe("decodeContent", () => {
  it.each([
    { enc: "gzip", body: gzipSync(text) },
    { enc: "x-gzip", body: gzipSync(text) },
    { enc: "deflate", body: deflateSync(text) },
    { enc: "deflate", body: deflateRawSync(text) }, // raw deflate, as some servers send
    { enc: "br", body: brotliCompressSync(text) },
    { enc: "BR", body: brotliCompressSync(text) },
    { enc: "gzip, br", body: brotliCompressSync(gzipSync(text)) },
    { enc: "identity", body: text },
    { enc: null, body: text },
  ])("decodes $enc", async ({ enc, body }) => {
    expect((await decodeContent(body, enc, 1_000_000)).equals(text)).toBe(true);
  });

  it("leaves an empty body alone", async () => {
    expect((await decodeContent(Buffer.alloc(0), "gzip", 10)).length).toBe(0);
  });

  it.each([
    { enc: "gzip", bomb: gzipSync(Buffer.alloc(8 * 1024 * 1024)) },
    { enc: "br", bomb: brotliCompressSync(Buffer.alloc(8 * 1024 * 1024)) },
    { enc: "deflate", bomb: deflateSync(Buffer.alloc(8 * 1024 * 1024)) },
  ])("stops a $enc bomb at the cap", async ({ enc, bomb }) => {
    const err = await decodeContent(bomb, enc, 64 * 1024).catch((e: unknown) => e);
    expect(code(err)).toBe("too_large");
  });

  it("inflates past the inline limit on the thread pool, still capped", async () => {
    const big = Buffer.alloc(INLINE_BYTES + 512 * 1024, "feed ");
    for (const enc of ["gzip", "br"]) {
      const packed = enc === "gzip" ? gzipSync(big) : brotliCompressSync(big);
      expect((await decodeContent(packed, enc, 4 * INLINE_BYTES)).equals(big)).toBe(true);
      const err = await decodeContent(packed, enc, INLINE_BYTES + 1024).catch((e: unknown) => e);
      expect(code(err)).toBe("too_large");
    }
  });

  it("classifies unknown codings and corrupt streams as bad_encoding", async () => {
    expect(code(await decodeContent(text, "compress", 1e6).catch((e: unknown) => e))).toBe("bad_encoding");
    expect(code(await decodeContent(text, "gzip", 1e6).catch((e: unknown) => e))).toBe("bad_encoding");
    expect(code(await decodeContent(gzipSync(text).subarray(0, 40), "gzip", 1e6).catch((e: unknown) => e))).toBe("bad_encoding");
  });
});

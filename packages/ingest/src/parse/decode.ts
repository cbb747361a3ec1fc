import iconv from "iconv-lite";

/**
 * Decodes a feed body to a string: BOM first, then the HTTP charset, then the
 * XML declaration, else UTF-8 (RFC 7303 order). ISO-8859-1 is read as
 * windows-1252, as browsers do.
 */
export function decodeBody(body: Buffer, contentType: string | null): string {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return body.subarray(3).toString("utf8");
  if (body[0] === 0xfe && body[1] === 0xff) return iconv.decode(body.subarray(2), "utf16-be");
  if (body[0] === 0xff && body[1] === 0xfe) return iconv.decode(body.subarray(2), "utf16-le");
  const httpCharset = /charset\s*=\s*"?([\w.:-]+)/i.exec(contentType ?? "")?.[1];
  const head = body.subarray(0, 512).toString("latin1");
  const xmlCharset = /^\s*<\?xml[^>]*encoding\s*=\s*["']([\w.:-]+)["']/i.exec(head)?.[1];
  const charset = normalizeCharset(httpCharset ?? xmlCharset ?? "utf-8");
  if (charset === "utf-8" || !iconv.encodingExists(charset)) return body.toString("utf8");
  return iconv.decode(body, charset);
}

function normalizeCharset(name: string): string {
  const n = name.toLowerCase();
  if (n === "utf8") return "utf-8";
  if (n === "iso-8859-1" || n === "latin1" || n === "us-ascii" || n === "ascii") return "windows-1252";
  return n;
}

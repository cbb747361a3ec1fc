import { isUtf8 } from "node:buffer";
import { canonicalCharset, decodeAs, decodeUtf8Lenient, guessLegacyCharset, isSingleByte, utf8Stats } from "./charset.ts";

/**
 * Decodes a feed body to a string, in RFC 7303 order: a byte order mark, then
 * the HTTP charset, then the byte pattern of an undeclared UTF-16 document,
 * then the XML declaration's encoding, else UTF-8. Labels follow the WHATWG
 * supersets (ISO-8859-1 and US-ASCII read as windows-1252, GB2312 as GB18030,
 * Shift_JIS as windows-31j, EUC-KR as windows-949); unknown labels and UTF-7
 * are ignored. Two repairs for mislabelled bodies:
 * - UTF-8 (declared or assumed) that is not valid UTF-8: a later declaration
 *   naming another charset wins (an HTTP default of UTF-8 over a correct XML
 *   declaration); else, when valid multi-byte sequences outnumber the bytes
 *   that start none (UTF-8 with a few stray bytes; legacy text forms such
 *   sequences only by chance), the stray bytes are read as windows-1252; else
 *   the body is in a legacy charset,
 *   guessed (guessLegacyCharset), by default windows-1252. No U+FFFD is
 *   produced for bytes that the body holds.
 * - A declared single-byte charset on a body that is valid UTF-8 and has
 *   multi-byte sequences: the body is UTF-8 (Latin text never is by chance).
 */
export function decodeBody(body: Buffer, contentType: string | null): string {
  const bom = byteOrderMark(body);
  if (bom) return decodeAs(body.subarray(bom.length), bom.charset);
  const http = canonicalCharset(/charset\s*=\s*["']?([\w.:-]+)/i.exec(contentType ?? "")?.[1]);
  const declared = [http, utf16Pattern(body), xmlDeclaredCharset(body)].filter((c): c is string => c !== null);
  const first = declared[0];
  if (first && first !== "utf-8") return decodeDeclared(body, first);
  if (isUtf8(body)) return body.toString("utf8");
  // Declared or assumed UTF-8 that is not: a later declaration, the stray bytes, or a guess.
  const other = declared.find((c) => c !== "utf-8");
  if (other) return decodeDeclared(body, other);
  const { multibyte, invalid } = utf8Stats(body);
  if (multibyte > invalid) return decodeUtf8Lenient(body);
  return decodeAs(body, guessLegacyCharset(body));
}

function decodeDeclared(body: Buffer, charset: string): string {
  if (isSingleByte(charset) && isUtf8(body) && utf8Stats(body).multibyte > 0) return body.toString("utf8");
  return decodeAs(body, charset);
}

function byteOrderMark(b: Buffer): { length: number; charset: string } | null {
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return { length: 3, charset: "utf-8" };
  if (b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) return { length: 4, charset: "utf-32le" };
  if (b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff) return { length: 4, charset: "utf-32be" };
  if (b[0] === 0xfe && b[1] === 0xff) return { length: 2, charset: "utf-16be" };
  if (b[0] === 0xff && b[1] === 0xfe) return { length: 2, charset: "utf-16le" };
  return null;
}

/** `<?` or whitespace then `<` in UTF-16 without a BOM (XML 1.0 appendix F). */
function utf16Pattern(b: Buffer): string | null {
  if (b.length < 4) return null;
  const lt = (hi: number, lo: number) => hi === 0 && (lo === 0x3c || lo === 0x20 || lo === 0x0a || lo === 0x0d || lo === 0x09);
  if (lt(b[0]!, b[1]!) && b[2] === 0 && b[3]! > 0) return "utf-16be";
  if (lt(b[1]!, b[0]!) && b[3] === 0 && b[2]! > 0) return "utf-16le";
  return null;
}

/**
 * The encoding named by an XML declaration near the start (comments or junk may
 * precede it). A UTF-16/32 label is ignored: a declaration readable as ASCII
 * bytes was not written in UTF-16 or UTF-32.
 */
function xmlDeclaredCharset(b: Buffer): string | null {
  const head = b.subarray(0, 1024).toString("latin1");
  const label = /<\?xml\s[^>]*?encoding\s*=\s*["']?([\w.:-]+)/i.exec(head)?.[1];
  const cs = canonicalCharset(label);
  return cs && /^utf-(16|32)/.test(cs) ? null : cs;
}

import iconv from "iconv-lite";

/**
 * Byte-level helpers for decodeBody: a windows-1252 decoder that never yields
 * U+FFFD, a UTF-8 decoder that reads stray bytes as windows-1252, charset label
 * canonicalization, and a small guesser for undeclared legacy encodings.
 */

/** 0x80–0x9F in windows-1252; the five undefined bytes map to the C1 controls, as in WHATWG. */
export const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

export function decodeWindows1252(buf: Uint8Array, start = 0, end = buf.length): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start)
    .toString("latin1")
    .replace(/[\x80-\x9f]/g, (c) => String.fromCharCode(CP1252_HIGH[c.charCodeAt(0) - 0x80]!));
}

/** Length of the valid UTF-8 sequence that starts at `i` (1 for ASCII), or 0 when the byte there starts none. */
function utf8SequenceAt(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Counts of valid multi-byte UTF-8 sequences and of non-ASCII bytes that start none. */
export function utf8Stats(b: Uint8Array): { multibyte: number; invalid: number } {
  let multibyte = 0;
  let invalid = 0;
  for (let i = 0; i < b.length; ) {
    if (b[i]! < 0x80) {
      i++;
      continue;
    }
    const n = utf8SequenceAt(b, i);
    if (n === 0) {
      invalid++;
      i++;
    } else {
      multibyte++;
      i += n;
    }
  }
  return { multibyte, invalid };
}

/** UTF-8 where the bytes are UTF-8; every byte that starts no valid sequence is read as windows-1252. */
export function decodeUtf8Lenient(b: Uint8Array): string {
  const parts: string[] = [];
  let runStart = 0;
  for (let i = 0; i < b.length; ) {
    if (b[i]! < 0x80) {
      i++;
      continue;
    }
    const n = utf8SequenceAt(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (i > runStart) parts.push(Buffer.from(b.buffer, b.byteOffset + runStart, i - runStart).toString("utf8"));
    parts.push(decodeWindows1252(b, i, i + 1));
    runStart = ++i;
  }
  if (runStart < b.length) parts.push(Buffer.from(b.buffer, b.byteOffset + runStart, b.length - runStart).toString("utf8"));
  return parts.join("");
}

const ALIASES: Record<string, string> = {
  utf8: "utf-8", "unicode-1-1-utf-8": "utf-8",
  "iso-8859-1": "windows-1252", iso8859_1: "windows-1252", "iso_8859-1": "windows-1252", "iso8859-1": "windows-1252",
  latin1: "windows-1252", l1: "windows-1252", "us-ascii": "windows-1252", ascii: "windows-1252",
  "ansi_x3.4-1968": "windows-1252", cp1252: "windows-1252", "x-cp1252": "windows-1252", cp819: "windows-1252",
  gb2312: "gb18030", gbk: "gb18030", "x-gbk": "gb18030", cp936: "gb18030", csgb2312: "gb18030", "gb_2312-80": "gb18030",
  shift_jis: "cp932", "shift-jis": "cp932", sjis: "cp932", "x-sjis": "cp932", ms_kanji: "cp932", "windows-31j": "cp932",
  csshiftjis: "cp932", "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "windows-949": "cp949", korean: "cp949",
  big5: "big5-hkscs", "cn-big5": "big5-hkscs", "x-x-big5": "big5-hkscs",
  "iso-8859-9": "windows-1254", "iso-8859-11": "windows-874", "tis-620": "windows-874",
  "ucs-2": "utf-16le", unicode: "utf-16le",
};
/** Labels never honoured: UTF-7 smuggles markup past filters. */
const REFUSED = new Set(["utf-7", "utf7", "csunicode11utf7"]);

/** The decoder name for a charset label, or null when it is unknown or refused. */
export function canonicalCharset(label: string | null | undefined): string | null {
  if (!label) return null;
  const n = label.trim().toLowerCase();
  if (REFUSED.has(n)) return null;
  const c = ALIASES[n] ?? n;
  return c === "utf-8" || iconv.encodingExists(c) ? c : null;
}

/** Single-byte charsets: a body that is valid UTF-8 with multi-byte sequences is UTF-8 whatever they say. */
export function isSingleByte(charset: string): boolean {
  return /^(windows-125\d|iso-8859-\d+|koi8-[ru]|windows-874|macintosh|mac)$/.test(charset);
}

export function decodeAs(b: Uint8Array, charset: string): string {
  if (charset === "utf-8") return decodeUtf8Lenient(b);
  if (charset === "windows-1252") return decodeWindows1252(b);
  return iconv.decode(Buffer.from(b.buffer, b.byteOffset, b.length), charset);
}

/** Share of the non-ASCII characters of `s` that `test` accepts. */
function share(s: string, test: (cp: number) => boolean): number {
  let n = 0;
  let hit = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) continue;
    n++;
    if (test(cp)) hit++;
  }
  return n ? hit / n : 0;
}
const isKana = (cp: number) => cp >= 0x3040 && cp <= 0x30ff;
const isHangul = (cp: number) => cp >= 0xac00 && cp <= 0xd7a3;
const isHan = (cp: number) => (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3000 && cp <= 0x303f) || (cp >= 0xff00 && cp <= 0xffef);

const isCyrillic = (cp: number) => cp >= 0x400 && cp <= 0x45f;

/** Share of Cyrillic words (2+ letters) written lower-case or capitalized, as prose is. */
function cyrillicCase(s: string): number {
  const words = s.match(/[\u0400-\u045f]{2,}/g) ?? [];
  if (words.length === 0) return 0;
  const natural = words.filter((w) => /^[\u0400-\u042f]?[\u0430-\u045f]+$/.test(w)).length;
  return natural / words.length;
}

type Check = (s: string) => boolean;
const scriptShare = (test: (cp: number) => boolean, min: number): Check => (s) => !s.includes("\ufffd") && share(s, test) >= min;
const cyrillicProse: Check = (s) => share(s, isCyrillic) >= 0.8 && cyrillicCase(s) >= 0.7;
/**
 * Candidates in order: the scripts that tell themselves apart first (kana,
 * Hangul), then Cyrillic prose, then Chinese (GB18030 and Big5 decode most
 * byte pairs, Cyrillic ones included, into valid ideographs).
 */
const CANDIDATES: Array<[string, Check]> = [
  ["cp932", scriptShare(isKana, 0.15)],
  ["euc-jp", scriptShare(isKana, 0.15)],
  ["cp949", scriptShare(isHangul, 0.85)],
  ["windows-1251", cyrillicProse],
  ["koi8-r", cyrillicProse],
  ["gb18030", scriptShare(isHan, 0.5)],
  ["big5-hkscs", scriptShare(isHan, 0.5)],
];

/**
 * The likeliest legacy charset of bytes that are not UTF-8. Latin text has its
 * non-ASCII bytes alone or in pairs between ASCII letters, so unless most of
 * them come in runs of three or more the answer is windows-1252. Runs are
 * read with the first candidate charset whose decoding looks like its script
 * (and has no decoding error); when none does, windows-1252.
 */
export function guessLegacyCharset(b: Uint8Array): string {
  let high = 0;
  let inRuns = 0;
  let run = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i < b.length && b[i]! >= 0x80) {
      high++;
      run++;
    } else {
      if (run >= 3) inRuns += run;
      run = 0;
    }
  }
  if (high === 0 || inRuns < high / 2) return "windows-1252";
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  for (const [cs, looksRight] of CANDIDATES) if (looksRight(iconv.decode(buf, cs))) return cs;
  return "windows-1252";
}

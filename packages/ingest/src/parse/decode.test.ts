import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { guessLegacyCharset } from "./charset.ts";
import { decodeBody } from "./decode.ts";

const xml = (enc: string | null, body: string) =>
  `<?xml version="1.0"${enc ? ` encoding="${enc}"` : ""}?><rss version="2.0"><channel><title>${body}</title></channel></rss>`;
const bytes = (text: string, charset: string) => (charset === "utf-8" ? Buffer.from(text) : iconv.encode(text, charset));
const cat = (...parts: Buffer[]) => Buffer.concat(parts);

const LATIN = "Café – naïve, “quoted” €5";
const RUSSIAN = "Как пережить новогоднюю ночь и не сойти с ума";
const KOREAN = "한국어 텍스트를 올바르게 표시하기 위한 테스트 문장입니다";
const JAPANESE = "日本語のテキストを正しく表示するためのテストです";
const CHINESE = "建国三十五周年纪念，华表与和平鸽的故事";

describe("decodeBody", () => {
  it.each([
    { name: "UTF-8 without a declaration", body: bytes(xml(null, LATIN), "utf-8"), ct: null, want: LATIN },
    { name: "UTF-8 BOM over an HTTP charset", body: cat(Buffer.from([0xef, 0xbb, 0xbf]), bytes(xml(null, LATIN), "utf-8")), ct: "text/xml; charset=windows-1251", want: LATIN },
    { name: "UTF-16LE BOM", body: cat(Buffer.from([0xff, 0xfe]), bytes(xml("utf-16", RUSSIAN), "utf-16le")), ct: null, want: RUSSIAN },
    { name: "UTF-16BE BOM", body: cat(Buffer.from([0xfe, 0xff]), bytes(xml("utf-16", RUSSIAN), "utf-16be")), ct: null, want: RUSSIAN },
    { name: "UTF-16LE without a BOM (byte pattern)", body: bytes(xml("utf-16", RUSSIAN), "utf-16le"), ct: null, want: RUSSIAN },
    { name: "UTF-16BE without a BOM (byte pattern)", body: bytes(xml(null, KOREAN), "utf-16be"), ct: null, want: KOREAN },
    { name: "windows-1252 by HTTP charset", body: bytes(xml(null, LATIN), "windows-1252"), ct: "text/xml; charset=windows-1252", want: LATIN },
    { name: "quoted HTTP charset", body: bytes(xml(null, LATIN), "windows-1252"), ct: 'application/rss+xml; charset="ISO-8859-1"', want: LATIN },
    { name: "ISO-8859-1 read as windows-1252 (€ and curly quotes)", body: bytes(xml("ISO-8859-1", LATIN), "windows-1252"), ct: null, want: LATIN },
    { name: "US-ASCII label read as windows-1252", body: bytes(xml("us-ascii", LATIN), "windows-1252"), ct: null, want: LATIN },
    { name: "HTTP charset wins over the XML declaration", body: bytes(xml("utf-8", RUSSIAN), "windows-1251"), ct: "text/xml; charset=windows-1251", want: RUSSIAN },
    { name: "windows-1251 by XML declaration", body: bytes(xml("windows-1251", RUSSIAN), "windows-1251"), ct: "application/xml", want: RUSSIAN },
    { name: "KOI8-R by XML declaration", body: bytes(xml("koi8-r", RUSSIAN), "koi8-r"), ct: null, want: RUSSIAN },
    { name: "GB2312 label read as GB18030", body: bytes(xml("gb2312", CHINESE), "gb18030"), ct: null, want: CHINESE },
    { name: "Shift_JIS by XML declaration", body: bytes(xml("Shift_JIS", JAPANESE), "shift_jis"), ct: null, want: JAPANESE },
    { name: "EUC-KR by XML declaration", body: bytes(xml("euc-kr", KOREAN), "euc-kr"), ct: null, want: KOREAN },
    { name: "an unknown label is ignored", body: bytes(xml("bogus", LATIN), "utf-8"), ct: "text/xml; charset=nonsense", want: LATIN },
    { name: "UTF-7 is refused (read as UTF-8)", body: bytes(xml("utf-7", "a+ACE-b"), "utf-8"), ct: null, want: "a+ACE-b" },
    { name: "HTTP UTF-8 that is not: the XML declaration decides", body: bytes(xml("windows-1251", RUSSIAN), "windows-1251"), ct: "text/xml; charset=utf-8", want: RUSSIAN },
    { name: "undeclared Latin-1 falls back to windows-1252", body: bytes(xml(null, LATIN), "windows-1252"), ct: null, want: LATIN },
    { name: "declared UTF-8 that is Latin-1 falls back to windows-1252", body: bytes(xml("utf-8", LATIN), "windows-1252"), ct: null, want: LATIN },
    { name: "UTF-8 with one stray Latin-1 byte keeps its UTF-8", body: cat(bytes(xml(null, `${RUSSIAN} `), "utf-8"), Buffer.from([0xe9])), ct: null, want: `${RUSSIAN} ` },
    { name: "declared Latin-1 on a UTF-8 body is read as UTF-8", body: bytes(xml("iso-8859-1", LATIN), "utf-8"), ct: "text/xml; charset=iso-8859-1", want: LATIN },
    { name: "undeclared windows-1251 is guessed", body: bytes(xml(null, RUSSIAN), "windows-1251"), ct: null, want: RUSSIAN },
    { name: "undeclared KOI8-R is guessed", body: bytes(xml(null, RUSSIAN), "koi8-r"), ct: null, want: RUSSIAN },
    { name: "undeclared EUC-KR is guessed", body: bytes(xml(null, KOREAN), "euc-kr"), ct: null, want: KOREAN },
    { name: "undeclared Shift_JIS is guessed", body: bytes(xml(null, JAPANESE), "shift_jis"), ct: null, want: JAPANESE },
    { name: "undeclared GB18030 is guessed", body: bytes(xml(null, CHINESE), "gb18030"), ct: null, want: CHINESE },
  ])("$name", ({ body, ct, want }) => {
    const text = decodeBody(body, ct);
    expect(text).toContain(want);
    expect(text).not.toContain("\ufffd");
  });

  it("never yields U+FFFD for a non-UTF-8 body, whatever its bytes", () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    for (const ct of [null, "text/xml; charset=utf-8", "text/xml; charset=iso-8859-1", "text/xml; charset=windows-1252"]) {
      expect(decodeBody(all, ct)).not.toContain("\ufffd");
    }
  });

  it("keeps a U+FFFD the body itself holds", () => {
    expect(decodeBody(Buffer.from("<t>a\ufffdb</t>"), null)).toBe("<t>a\ufffdb</t>");
  });
});

describe("guessLegacyCharset", () => {
  it.each([
    ["French in windows-1252", iconv.encode("Les élèves ont été très sérieux à l'école, où ça va.", "windows-1252"), "windows-1252"],
    ["Portuguese in windows-1252", iconv.encode("Revolução nas telas, simulações de 2º turno", "windows-1252"), "windows-1252"],
    ["Russian in windows-1251", iconv.encode(RUSSIAN, "windows-1251"), "windows-1251"],
    ["Russian in KOI8-R", iconv.encode(RUSSIAN, "koi8-r"), "koi8-r"],
    ["Korean in EUC-KR", iconv.encode(KOREAN, "euc-kr"), "cp949"],
    ["Japanese in Shift_JIS", iconv.encode(JAPANESE, "shift_jis"), "cp932"],
    ["Chinese in GB18030", iconv.encode(CHINESE, "gb18030"), "gb18030"],
  ])("%s", (_name, body, want) => {
    expect(guessLegacyCharset(body)).toBe(want);
  });
});

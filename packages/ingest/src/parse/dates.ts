/**
 * Feed dates as publishers write them: RFC 822/1123/2822 (with or without the
 * day name, seconds, a two-digit year, a numeric offset or a zone name, full
 * or dotted month names), ISO 8601 / W3C-DTF (extended or basic, week-less,
 * any fraction, `Z`, `±hh`, `±hhmm`, `±hh:mm`, date only, year-month, year),
 * and common junk around them (a label, extra spaces, a trailing zone name
 * after an offset, `T`/`t` or a space between date and time). A time without
 * a zone is UTC. Returns epoch milliseconds, or null when nothing sensible is
 * found (including impossible calendar dates such as 31 February).
 */
export function parseFeedDate(input: string): number | null {
  const t = input.replace(/\s+/g, " ").trim();
  if (!t) return null;
  if (/^\d{9,10}$/.test(t)) return Number(t) * 1000; // Unix seconds
  if (/^\d{12,13}$/.test(t)) return Number(t); // Unix milliseconds
  return iso(t) ?? rfc822(t) ?? lastResort(t);
}

const MONTHS: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
  // a few non-English abbreviations seen in feeds
  mär: 3, mrz: 3, mai: 5, okt: 10, dez: 12, janv: 1, févr: 2, fevr: 2, avr: 4, juin: 6, juil: 7, août: 8, aout: 8, déc: 12,
};
/** Zone names in feeds; military letters other than Z are read as UTC (RFC 1123 §5.2.14). */
const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0, wet: 0, bst: 60, ist: 330, cet: 60, met: 60, cest: 120, mest: 120, eet: 120,
  eest: 180, msk: 180, west: 60, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480,
  pdt: -420, akst: -540, akdt: -480, hst: -600, ast: -240, adt: -180, nst: -210, ndt: -150, jst: 540, kst: 540,
  hkt: 480, sgt: 480, awst: 480, acst: 570, acdt: 630, aest: 600, aedt: 660, nzst: 720, nzdt: 780,
};

function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0, offsetMin = 0): number | null {
  if (mo < 1 || mo > 12 || d < 1 || h > 24 || mi > 59 || s > 60) return null;
  const v = Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59), ms);
  const back = new Date(v);
  if (back.getUTCDate() !== d && !(h === 24 && mi === 0 && s === 0)) return null; // 31 Feb
  return v - offsetMin * 60_000;
}

/** `+hh:mm`, `+hhmm`, `+hh`, `Z` or a zone name; undefined when absent, null when unreadable. */
function offsetOf(zone: string | undefined): number | null | undefined {
  if (zone === undefined || zone.trim() === "") return undefined;
  const z = zone.trim().toLowerCase();
  const whole = offsetText(z);
  // Junk after a readable zone ("GMT GMT", "+0000 UTC+0") is ignored.
  return whole !== null ? whole : offsetText(z.split(" ")[0]!);
}

function offsetText(z: string): number | null {
  const m = /^(?:(?:gmt|utc|ut)\s*)?([+-])(\d{1,2}):?(\d{2})?(?:\s*\(?[a-z]{1,5}\)?)?$/.exec(z);
  if (m) {
    const mins = Number(m[2]) * 60 + Number(m[3] ?? 0);
    return mins > 18 * 60 ? null : (m[1] === "-" ? -1 : 1) * mins;
  }
  const name = /^\(?([a-z]{1,5})\)?$/.exec(z)?.[1];
  if (name === undefined) return null;
  if (name in ZONES) return ZONES[name]!;
  return name.length === 1 ? 0 : null;
}

const ISO =
  /^(?:[a-z]+:\s*)?(\d{4})(?:-?(\d{2})(?:-?(\d{2})(?:[t ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?\s*(z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$/i;

function iso(t: string): number | null {
  const m = ISO.exec(t);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const offset = offsetOf(zone);
  if (offset === null) return null;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  return utc(Number(y), Number(mo ?? 1), Number(d ?? 1), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), Math.min(ms, 999), offset ?? 0);
}

const RFC822 =
  /^(?:[a-z]+:\s*)?(?:[a-z\u00c0-\u017f]+\.?,?\s*)?(\d{1,2})(?:st|nd|rd|th)?[\s-]+([a-z\u00c0-\u017f]{3,9})\.?,?[\s-]+(\d{2,4}),?(?:\s+|t)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([ap]\.?m\.?)?\s*(.*)$/i;
const RFC822_DATE_ONLY = /^(?:[a-z]+,?\s*)?(\d{1,2})\s+([a-z]{3,9})\.?,?\s+(\d{4})$/i;
/** `Mon Jan 02 2006 15:04:05 GMT+0100`, `January 2, 2006 3:04 PM EST` (month first). */
const MONTH_FIRST =
  /^(?:[a-z]+,?\s+)?([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}),?(?:\s+(?:at\s+)?(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap]\.?m\.?)?\s*(.*))?$/i;

function monthOf(name: string): number | null {
  const n = name.toLowerCase();
  return MONTHS[n] ?? MONTHS[n.slice(0, 4)] ?? MONTHS[n.slice(0, 3)] ?? null;
}

function year(y: string): number {
  const n = Number(y);
  if (y.length === 2) return n < 50 ? 2000 + n : 1900 + n;
  if (y.length === 3) return 1900 + n; // RFC 822 dates written by year - 1900
  return n;
}

function hour12(h: string, ampm: string | undefined): number {
  const n = Number(h);
  if (!ampm) return n;
  const pm = ampm.toLowerCase().startsWith("p");
  return (n % 12) + (pm ? 12 : 0);
}

function rfc822(t: string): number | null {
  let m = RFC822.exec(t);
  if (m) {
    const [, d, mon, y, h, mi, s, ampm, zone] = m;
    const mo = monthOf(mon!);
    const offset = offsetOf(zone);
    if (mo === null || offset === null) return null;
    return utc(year(y!), mo, Number(d), hour12(h!, ampm), Number(mi), Number(s ?? 0), 0, offset ?? 0);
  }
  m = RFC822_DATE_ONLY.exec(t);
  if (m) {
    const mo = monthOf(m[2]!);
    return mo === null ? null : utc(Number(m[3]), mo, Number(m[1]));
  }
  m = MONTH_FIRST.exec(t);
  if (m) {
    const [, mon, d, y, h, mi, s, ampm, zone] = m;
    const mo = monthOf(mon!);
    const offset = offsetOf(zone?.replace(/\s*\(.*\)$/, ""));
    if (mo === null || offset === null) return null;
    return utc(Number(y), mo, Number(d), h ? hour12(h, ampm) : 0, Number(mi ?? 0), Number(s ?? 0), 0, offset ?? 0);
  }
  return null;
}

/** Whatever V8 reads, but only with an explicit zone, so the host's zone never leaks in. */
function lastResort(t: string): number | null {
  if (!/(?:\b(?:gmt|utc|z)\b|[+-]\d{2}:?\d{2}\b)/i.test(t)) return null;
  const v = Date.parse(t);
  return Number.isNaN(v) ? null : v;
}

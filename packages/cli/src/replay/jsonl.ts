/**
 * Captured items, one JSON object a line (`replay file items.jsonl`). A line is
 * read as a feed entry would be, so identity and content hash come out as for
 * the same item in a feed:
 *
 *   {"title": "…", "content": "<p>…</p>", "url": "https://…", "guid": "…",
 *    "publishedAt": "2024-05-01T10:00:00Z", "seenAt": "2024-05-01T10:05:00Z"}
 *
 * title and content are required strings (not both empty); url, guid and
 * publishedAt may be null or absent; seenAt (an ISO time) defaults to the
 * run's. Other fields (identityKey, contentHash, feedId …, as in an items job)
 * are ignored. Blank lines are skipped; a line that is not JSON or not of this
 * shape is reported by number and the others are read.
 */
import { z } from "zod";
import type { ItemPayload } from "@newsfeed/jobs";
import { normalizeItems } from "@newsfeed/ingest";

const isoTime = (s: string) => /^\d{4}-\d\d-\d\d/.test(s) && !Number.isNaN(Date.parse(s));

export const jsonlItemSchema = z
  .object({
    title: z.string(),
    content: z.string(),
    url: z.string().nullable().optional(),
    guid: z.string().min(1).nullable().optional(),
    publishedAt: z.string().nullable().optional(),
    seenAt: z.string().refine(isoTime, "expected an ISO 8601 time").optional(),
  })
  .refine((x) => x.title.trim() !== "" || x.content.trim() !== "", "title and content are both empty");

export interface JsonLinesResult {
  items: ItemPayload[];
  /** Lines that could not be read: 1-based line number and why. */
  failures: { line: number; error: string }[];
}

export function parseJsonLines(text: string, ctx: { feedId: number; feedUrl: string; seenAt: Date }): JsonLinesResult {
  const items: ItemPayload[] = [];
  const failures: JsonLinesResult["failures"] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      failures.push({ line: i + 1, error: `not JSON: ${(err as Error).message}` });
      return;
    }
    const res = jsonlItemSchema.safeParse(value);
    if (!res.success) {
      const issue = res.error.issues[0]!;
      failures.push({ line: i + 1, error: `${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}` });
      return;
    }
    const x = res.data;
    const [item] = normalizeItems(
      { title: null, link: null, items: [{ guid: x.guid ?? null, link: x.url ?? null, title: x.title, content: x.content, date: x.publishedAt ?? null }] },
      { feedId: ctx.feedId, feedUrl: ctx.feedUrl, seenAt: x.seenAt ? new Date(x.seenAt) : ctx.seenAt },
    );
    items.push(item!);
  });
  return { items, failures };
}

import { readFileSync } from "node:fs";
import { bigint, bigserial, boolean, customType, integer, pgSchema, pgTable, pgView, real, text, timestamp } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import { schema } from "@newsfeed/store";
import { checkSchemaDoc, describeTables, sqlTypeName, tablesOf, type TableSpec } from "./schema-doc.ts";

const DOC_PATH = new URL("../../../docs/schema.md", import.meta.url);
const doc = readFileSync(DOC_PATH, "utf8");
const tables = describeTables(tablesOf(schema));

describe("docs/schema.md", () => {
  it("documents every table and column of the Drizzle schema, with its type and nullability", () => {
    expect(tables.map((t) => t.name)).toContain("feeds");
    expect(checkSchemaDoc(doc, tables)).toEqual([]);
  });
});

describe("sqlTypeName", () => {
  it.each([
    ["bigserial", "bigint"],
    ["serial", "integer"],
    ["bigint", "bigint"],
    ["timestamp with time zone", "timestamptz"],
    ["timestamp (3) with time zone", "timestamptz(3)"],
    ["timestamp", "timestamp"],
    ["time with time zone", "timetz"],
    ["double precision", "double precision"],
    ["varchar(255)", "varchar(255)"],
    ["text[]", "text[]"],
  ])("%s → %s", (drizzle, printed) => {
    expect(sqlTypeName(drizzle)).toBe(printed);
  });
});

describe("describeTables", () => {
  it("reads names, printed types and nullability from Drizzle tables, and leaves views out", () => {
    const bytea = customType<{ data: Buffer }>({ dataType: () => "bytea" });
    const widgets = pgTable("widgets", {
      id: bigserial("id", { mode: "number" }).primaryKey(),
      ownerId: bigint("owner_id", { mode: "number" }).notNull(),
      at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
      score: real("score"),
      on: boolean("on").notNull().default(false),
      blob: bytea("blob"),
    });
    const gauges = pgSchema("lab").table("gauges", { n: integer("n") });
    const view = pgView("widget_scores", { score: real("score") }).existing();
    expect(describeTables(tablesOf({ widgets, gauges, view, helper: () => 1 }))).toEqual([
      {
        name: "widgets",
        columns: [
          { name: "id", type: "bigint", nullable: false },
          { name: "owner_id", type: "bigint", nullable: false },
          { name: "at", type: "timestamptz", nullable: false },
          { name: "score", type: "real", nullable: true },
          { name: "on", type: "boolean", nullable: false },
          { name: "blob", type: "bytea", nullable: true },
        ],
      },
      { name: "lab.gauges", columns: [{ name: "n", type: "integer", nullable: true }] },
    ]);
  });
});

/** The real tables with `table` changed by `f`. */
function withTable(name: string, f: (t: TableSpec) => TableSpec): TableSpec[] {
  expect(tables.some((t) => t.name === name)).toBe(true);
  return tables.map((t) => (t.name === name ? f(t) : t));
}

/** The real page with one exact piece of text replaced (which must be there once). */
function edit(from: string, to: string): string {
  expect(doc.split(from)).toHaveLength(2);
  return doc.replace(from, to);
}

/** A column added to schema.ts, built as Drizzle builds it: a copy of `feeds` with one more column. */
const feedsPlusColumn = withTable("feeds", (t) => ({
  ...t,
  columns: [...t.columns, ...describeTables([pgTable("feeds", { notes: text("notes") })])[0]!.columns],
}));

const negative: { name: string; markdown: string; tables: TableSpec[]; problems: string[] }[] = [
  {
    name: "a column added to the schema without a row",
    markdown: doc,
    tables: feedsPlusColumn,
    problems: ["feeds: columns not documented: notes"],
  },
  {
    name: "a table added to the schema without a section",
    markdown: doc,
    tables: [...tables, ...describeTables([pgTable("feed_tags", { tag: text("tag").notNull() })])],
    problems: ['feed_tags: no "## feed_tags" section'],
  },
  {
    name: "a column dropped from the schema but still documented",
    markdown: doc,
    tables: withTable("fetches", (t) => ({ ...t, columns: t.columns.filter((c) => c.name !== "final_url") })),
    problems: ["fetches: documented columns not in the schema: final_url"],
  },
  {
    name: "a table dropped from the schema but still documented",
    markdown: doc,
    tables: tables.filter((t) => t.name !== "story_merges"),
    problems: ['story_merges: "## story_merges" documents a table that is not in the schema'],
  },
  {
    name: "rows removed from the doc",
    markdown: edit("| `items_new` | integer | no |", "| `items_new_count` | integer | no |")
      .replace(/^\| `final_url` \|.*\n/m, ""),
    tables,
    problems: [
      "fetches: columns not documented: items_new, final_url",
      "fetches: documented columns not in the schema: items_new_count",
    ],
  },
  {
    name: "a section renamed",
    markdown: edit("## story_items\n", "## story_item\n"),
    tables,
    problems: [
      'story_item: "## story_item" documents a table that is not in the schema',
      'story_items: no "## story_items" section',
    ],
  },
  {
    name: "a type that disagrees",
    markdown: edit("| `items_per_day` | real |", "| `items_per_day` | double precision |"),
    tables,
    problems: ["feeds.items_per_day: type is real in the schema, double precision in the doc"],
  },
  {
    name: "a timestamp printed the long way",
    markdown: edit("| `merged_at` | timestamptz |", "| `merged_at` | timestamp with time zone |"),
    tables,
    problems: ["story_merges.merged_at: type is timestamptz in the schema, timestamp with time zone in the doc"],
  },
  {
    name: "nullability that disagrees, or is not yes/no",
    markdown: edit("| `final_url` | text | yes |", "| `final_url` | text | no |")
      .replace("| `similarity` | real | no |", "| `similarity` | real | NOT NULL |"),
    tables,
    problems: [
      "fetches.final_url: null? should be yes, the doc says no",
      "story_items.similarity: null? should be no, the doc says NOT NULL",
    ],
  },
  {
    name: "a row documented twice, a row without a meaning",
    markdown: edit("| `guid` | text | yes |", "| `title` | text | no | again |\n| `guid` | text | yes |")
      .replace(/^(\| `content_hash` \| text \| no \|).*$/m, "$1  |"),
    tables,
    problems: ["items.title: documented more than once", "items.content_hash: no meaning"],
  },
  {
    name: "a malformed row and a missing columns table",
    markdown: edit("| `copies` | integer | no |", "| copies | integer | no |").replace(
      "| column | type | null? | meaning |\n|---|---|---|---|\n| `story_id`",
      "| col | type | null? | meaning |\n|---|---|---|---|\n| `story_id`",
    ),
    tables,
    problems: [
      "stories: row is not | `column` | type | yes/no | meaning |",
      "stories: columns not documented: copies",
      'story_items: no "| column | type | null? | meaning |" table in its section',
    ],
  },
];

describe("checkSchemaDoc", () => {
  it.each(negative)("fails on $name", ({ markdown, tables: specs, problems }) => {
    const found = checkSchemaDoc(markdown, specs);
    expect(found).toHaveLength(problems.length);
    for (const p of problems) expect(found.some((f) => f.startsWith(p))).toBe(true);
  });

  it("reads escaped pipes and ignores other tables, code blocks and prose headings", () => {
    const markdown = [
      "# Title",
      "## Prose heading",
      "| column | type | null? | meaning |",
      "|---|---|---|---|",
      "| `ghost` | text | no | a prose section's table is not checked |",
      "## widgets",
      "```",
      "## not_a_heading",
      "```",
      "| value | meaning |",
      "|---|---|",
      "| `ok` | fine |",
      "",
      "| column | type | null? | meaning |",
      "|:---|---|---|---|",
      "| `state` | text | no | `a` \\| `b` |",
      "| `at` | `timestamptz` | yes | when |",
    ].join("\n");
    const specs: TableSpec[] = [
      {
        name: "widgets",
        columns: [
          { name: "state", type: "text", nullable: false },
          { name: "at", type: "timestamptz", nullable: true },
        ],
      },
    ];
    expect(checkSchemaDoc(markdown, specs)).toEqual([]);
  });
});

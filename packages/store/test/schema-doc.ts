/**
 * Keeps docs/schema.md in step with the Drizzle schema. The page's format (also
 * stated in the page, "Format of this page"):
 *
 * - a table's section is a level-2 heading that is the table's name alone,
 *   `## feeds` (`## other_schema.name` outside public); it runs to the next
 *   level-2 heading; any other heading is prose;
 * - in it, the columns table is the markdown table whose header is
 *   `| column | type | null? | meaning |`, one row per column in any order:
 *   `| \`name\` | type | yes/no | meaning |` (a `|` inside a cell is written `\|`);
 * - type is the short SQL name `sqlTypeName` prints; null? is `yes` when the
 *   column may hold NULL; meaning is not empty.
 */
import { is } from "drizzle-orm";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";

export interface ColumnSpec {
  name: string;
  /** Short SQL type name, as the page prints it (sqlTypeName). */
  type: string;
  nullable: boolean;
}

export interface TableSpec {
  name: string;
  columns: ColumnSpec[];
}

const SERIALS: Record<string, string> = { smallserial: "smallint", serial: "integer", bigserial: "bigint" };

/**
 * The type name the page prints for a Drizzle column's SQL type: a serial is the
 * integer type it stores, `timestamp[(p)] with time zone` is `timestamptz[(p)]`
 * (likewise `time`), and every other type is printed as Drizzle writes it.
 */
export function sqlTypeName(drizzleSqlType: string): string {
  const t = drizzleSqlType.trim().toLowerCase().replace(/\s+/g, " ");
  const serial = SERIALS[t];
  if (serial) return serial;
  const time = /^(timestamp|time)(?: ?\((\d+)\))?( with time zone| without time zone)?$/.exec(t);
  if (time) return `${time[1]}${time[3] === " with time zone" ? "tz" : ""}${time[2] ? `(${time[2]})` : ""}`;
  return t;
}

/** The tables among a schema module's exports (views and helpers are left out), in export order. */
export function tablesOf(module: Record<string, unknown>): PgTable[] {
  return Object.values(module).filter((v): v is PgTable => is(v, PgTable));
}

/** What the check compares: each table's name and its columns' names, types and nullability. */
export function describeTables(tables: readonly PgTable[]): TableSpec[] {
  return tables.map((table) => {
    const config = getTableConfig(table);
    return {
      name: config.schema ? `${config.schema}.${config.name}` : config.name,
      columns: config.columns.map((c) => ({ name: c.name, type: sqlTypeName(c.getSQLType()), nullable: !c.notNull })),
    };
  });
}

interface DocRow {
  name: string;
  type: string;
  nullable: string;
  meaning: string;
}

interface DocSection {
  name: string;
  /** Null when the section has no columns table. */
  rows: DocRow[] | null;
  problems: string[];
}

const TABLE_HEADING = /^##\s+([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\s*$/;
const COLUMNS_HEADER = ["column", "type", "null?", "meaning"];

/** The cells of a markdown table row; `\|` is a literal pipe. */
function cells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, "").replace(/(?<!\\)\|$/, "");
  return inner.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

const isSeparator = (line: string) => /^\|(\s*:?-+:?\s*\|)+\s*$/.test(line.trim());

function parseRow(section: string, line: string): DocRow | string {
  const c = cells(line);
  const name = /^`([^`]+)`$/.exec(c[0] ?? "")?.[1];
  if (c.length !== 4 || !name) return `${section}: row is not | \`column\` | type | yes/no | meaning |: ${line.length > 60 ? `${line.slice(0, 60)}…` : line}`;
  return { name, type: c[1]!.replace(/^`(.*)`$/, "$1"), nullable: c[2]!, meaning: c[3]! };
}

function parseSection(name: string, lines: readonly string[]): DocSection {
  const problems: string[] = [];
  let rows: DocRow[] | null = null;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i++]!.trim();
    if (!line.startsWith("|") || cells(line).join("|") !== COLUMNS_HEADER.join("|")) continue;
    if (rows) {
      problems.push(`${name}: more than one columns table`);
      break;
    }
    rows = [];
    if (isSeparator(lines[i] ?? "")) i++;
    else problems.push(`${name}: the columns table has no |---| separator row`);
    for (; i < lines.length && lines[i]!.trim().startsWith("|"); i++) {
      const row = parseRow(name, lines[i]!.trim());
      if (typeof row === "string") problems.push(row);
      else rows.push(row);
    }
  }
  return { name, rows, problems };
}

/** The page's table sections, by heading; the problems found while reading it. */
export function parseSchemaDoc(markdown: string): { sections: DocSection[]; problems: string[] } {
  const sections: DocSection[] = [];
  const problems: string[] = [];
  let current: { name: string; lines: string[] } | null = null;
  let fenced = false;
  const close = () => {
    if (current) sections.push(parseSection(current.name, current.lines));
    current = null;
  };
  for (const line of markdown.split(/\r?\n/)) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (!fenced && /^##\s/.test(line)) {
      close();
      const m = TABLE_HEADING.exec(line);
      if (m) current = { name: m[1]!, lines: [] };
      continue;
    }
    current?.lines.push(line);
  }
  close();
  const seen = new Set<string>();
  for (const s of sections) {
    if (seen.has(s.name)) problems.push(`${s.name}: more than one "## ${s.name}" section`);
    seen.add(s.name);
    problems.push(...s.problems);
  }
  return { sections, problems };
}

/**
 * Everything that differs between the page and the tables: a table without a
 * section, a section naming no table, columns without a row, rows naming no
 * column, and types or nullability that disagree. Empty when they agree.
 */
export function checkSchemaDoc(markdown: string, tables: readonly TableSpec[]): string[] {
  const { sections, problems } = parseSchemaDoc(markdown);
  const byName = new Map(sections.map((s) => [s.name, s]));
  const known = new Set(tables.map((t) => t.name));
  for (const s of sections) {
    if (!known.has(s.name)) problems.push(`${s.name}: "## ${s.name}" documents a table that is not in the schema`);
  }
  for (const table of tables) {
    const section = byName.get(table.name);
    if (!section) {
      problems.push(`${table.name}: no "## ${table.name}" section`);
      continue;
    }
    if (!section.rows) {
      problems.push(`${table.name}: no "| ${COLUMNS_HEADER.join(" | ")} |" table in its section`);
      continue;
    }
    const rows = new Map<string, DocRow>();
    for (const row of section.rows) {
      if (rows.has(row.name)) problems.push(`${table.name}.${row.name}: documented more than once`);
      rows.set(row.name, row);
    }
    const columns = new Set(table.columns.map((c) => c.name));
    const missing = table.columns.filter((c) => !rows.has(c.name)).map((c) => c.name);
    if (missing.length) problems.push(`${table.name}: columns not documented: ${missing.join(", ")}`);
    const stale = [...rows.keys()].filter((n) => !columns.has(n));
    if (stale.length) problems.push(`${table.name}: documented columns not in the schema: ${stale.join(", ")}`);
    for (const column of table.columns) {
      const row = rows.get(column.name);
      if (!row) continue;
      const where = `${table.name}.${column.name}`;
      if (row.type !== column.type) problems.push(`${where}: type is ${column.type} in the schema, ${row.type || "empty"} in the doc`);
      const expected = column.nullable ? "yes" : "no";
      if (row.nullable !== expected) problems.push(`${where}: null? should be ${expected}, the doc says ${row.nullable || "nothing"}`);
      if (!row.meaning) problems.push(`${where}: no meaning`);
    }
  }
  return problems;
}

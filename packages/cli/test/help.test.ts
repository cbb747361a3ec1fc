/**
 * Every command of the `newsfeed` tree, found by walking its help: each has a help
 * with examples that exits 0, the commands a script reads from offer --json, and
 * usage errors exit 2 with one line.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { expectUsageError, runCli, type Run } from "./helpers.ts";

// Nothing here may reach a service: point both at closed ports, so that a command that tried would fail loudly.
const newsfeed = (args: string[]) => runCli(args, { DATABASE_URL: "postgres://postgres@127.0.0.1:1/none", REDIS_URL: "redis://127.0.0.1:1" });

/** Runs `fn` over `items`, `limit` at a time (the machine is shared). */
async function pool<T, U>(items: readonly T[], limit: number, fn: (x: T) => Promise<U>): Promise<U[]> {
  const out: U[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

/** The lines of a help section ("Commands:", "Examples:"), up to the next blank line. */
function section(help: string, title: string): string[] {
  const lines = help.split("\n");
  const start = lines.indexOf(title);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.trim() === "");
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

interface Node {
  path: string[];
  help: Run;
  subcommands: string[];
}

/** Walks the tree from the root's help: each "Commands:" line starts with a subcommand's name. */
async function walk(): Promise<Node[]> {
  const nodes: Node[] = [];
  let frontier: string[][] = [[]];
  while (frontier.length) {
    const level = await pool(frontier, 3, async (path) => {
      const help = await newsfeed([...path, "--help"]);
      const subcommands = section(help.stdout, "Commands:").map((l) => l.trim().split(/\s+/)[0]!);
      return { path, help, subcommands };
    });
    nodes.push(...level);
    frontier = level.flatMap((n) => n.subcommands.map((s) => [...n.path, s]));
  }
  return nodes;
}

/** Commands whose output a script reads: they must offer --json. */
const JSON_COMMANDS = [
  "status", "stories", "queues", "queues failed", "migrate", "prune", "dedupe rebuild-index",
  "feeds add", "feeds import", "feeds list", "feeds show", "feeds poll", "feeds pause", "feeds resume", "feeds reset-errors", "feeds remove",
];

describe("the command tree", { timeout: 120_000 }, () => {
  let nodes: Node[];
  beforeAll(async () => {
    nodes = await walk();
  }, 300_000);

  it("has the commands operators know, found by walking the help", () => {
    const names = nodes.map((n) => n.path.join(" "));
    for (const want of ["", "feeds", "feeds remove", "feeds import", "feeds export", "status", "queues failed", "dedupe rebuild-index", "migrate", "run", "start", "stories", "prune"]) {
      expect(names).toContain(want);
    }
  });

  it("gives every command a help with usage, options and examples, exiting 0", () => {
    const problems: string[] = [];
    for (const { path, help } of nodes) {
      const name = `newsfeed ${path.join(" ")}`.trim();
      if (help.code !== 0) problems.push(`${name} --help exits ${help.code}: ${help.stderr.trim()}`);
      if (!help.stdout.includes(`Usage: ${name}`)) problems.push(`${name} --help has no usage line`);
      if (!help.stdout.includes("\nOptions:\n")) problems.push(`${name} --help lists no options`);
      // Lines starting with "#" are comments between the command lines.
      const examples = section(help.stdout, "Examples:").filter((l) => !l.trim().startsWith("#"));
      if (examples.length === 0) problems.push(`${name} --help has no examples`);
      for (const e of examples) if (!/\bpnpm\b/.test(e)) problems.push(`${name}: example '${e.trim()}' is not a command line`);
    }
    expect(problems).toEqual([]);
    // The exit codes are documented where every operator starts.
    expect(nodes.find((n) => n.path.length === 0)!.help.stdout).toContain("Exit codes: 0 done, 1 failed, 2 usage error.");
  });

  it("offers --json on the commands whose output a script reads", () => {
    const missing = JSON_COMMANDS.filter((c) => {
      const node = nodes.find((n) => n.path.join(" ") === c);
      return !node || !/^\s+--json\b/m.test(section(node.help.stdout, "Options:").join("\n"));
    });
    expect(missing).toEqual([]);
  });

  it("answers an unknown subcommand of every group with one line and exit code 2", async () => {
    const groups = nodes.filter((n) => n.subcommands.length > 0);
    const runs = await pool(groups, 3, async ({ path }) => ({ path, run: await newsfeed([...path, "no-such-command"]) }));
    for (const { path, run } of runs) {
      expect({ path, code: run.code, lines: run.stderr.trim().split("\n").length }).toEqual({ path, code: 2, lines: 1 });
      expect(run.stderr).toMatch(/unknown command '.*no-such-command'/);
    }
  });
});

// Usage errors are found by the shared dispatcher before a command runs (so before any
// service is reached), or by the command's own checks: a sample of both, one line each.
describe("usage errors", { timeout: 120_000 }, () => {
  it.each([
    { args: ["--no-such-option"], msg: /Unknown option '--no-such-option'/ },
    { args: ["feeds", "--no-such-option"], msg: /Unknown option '--no-such-option'/ },
    { args: ["queues", "--no-such-option"], msg: /Unknown option '--no-such-option'/ },
    { args: ["status", "--no-such-option"], msg: /Unknown option '--no-such-option'/ },
    { args: ["status", "now"], msg: /unexpected argument 'now'/ },
    { args: ["migrate", "now"], msg: /unexpected argument 'now'/ },
    { args: ["feeds", "remove"], msg: /missing <id\|url>/ },
    { args: ["feeds", "remove", "12"], msg: /add --yes \(or see what would go with --dry-run\)/ },
    { args: ["feeds", "remove", "12", "13", "--yes"], msg: /unexpected argument '13'/ },
    { args: ["feeds", "import", "--json"], msg: /missing <file.opml>/ },
    { args: ["feeds", "add", "--json", "ftp://x.example/feed"], msg: /unsupported URL scheme 'ftp:'/ },
  ])("newsfeed $args exits 2 with one line, and nothing on stdout", async ({ args, msg }) => {
    expectUsageError(await newsfeed(args), msg);
  });
});

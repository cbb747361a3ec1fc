/** A small declarative command tree over node:util parseArgs. */
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface RunContext {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  summary: string;
  /** Arguments after the command path, e.g. "<url>". */
  args?: string;
  /** Number of positionals accepted: [min, max]. */
  arity?: [number, number];
  options?: Options;
  /** Help text for each option, by name. */
  optionHelp?: Record<string, string>;
  examples?: string[];
  subcommands?: Command[];
  run?: (ctx: RunContext) => Promise<number | void>;
}

const HELP: Options = { help: { type: "boolean", short: "h" } };

function helpText(path: string[], cmd: Command): string {
  const lines = [`${cmd.summary}`, "", `Usage: newsfeed ${[...path, cmd.args ?? (cmd.subcommands ? "<command>" : "")].join(" ").trim()}${cmd.options ? " [options]" : ""}`];
  if (cmd.subcommands) {
    lines.push("", "Commands:");
    const w = Math.max(...cmd.subcommands.map((c) => (c.name + (c.args ? ` ${c.args}` : "")).length));
    for (const c of cmd.subcommands) lines.push(`  ${(c.name + (c.args ? ` ${c.args}` : "")).padEnd(w)}  ${c.summary}`);
  }
  const opts = Object.entries(cmd.options ?? {});
  lines.push("", "Options:");
  for (const [name, o] of opts) {
    const flag = `--${name}${o.type === "string" ? " <value>" : ""}${o.short ? `, -${o.short}` : ""}`;
    lines.push(`  ${flag.padEnd(24)}  ${cmd.optionHelp?.[name] ?? ""}`);
  }
  lines.push(`  ${"--help, -h".padEnd(24)}  show this help`);
  if (cmd.examples?.length) lines.push("", "Examples:", ...cmd.examples.map((e) => `  ${e}`));
  if (path.length === 0) {
    lines.push("", "Exit codes: 0 done, 1 failed, 2 usage error. Configuration comes from the environment (see README).");
  } else if (cmd.subcommands) {
    lines.push("", `Run 'newsfeed ${path.join(" ")} <command> --help' for a command's options.`);
  }
  return lines.join("\n");
}

/** Resolves argv to a command and runs it; returns the exit code. */
export async function dispatch(root: Command, argv: string[], out: (s: string) => void): Promise<number> {
  let cmd = root;
  const path: string[] = [];
  let rest = argv;
  while (cmd.subcommands && rest.length && !rest[0]!.startsWith("-")) {
    const next = cmd.subcommands.find((c) => c.name === rest[0]);
    if (!next) {
      throw new UsageError(`unknown command '${[...path, rest[0]].join(" ")}' (see 'newsfeed ${path.join(" ")}${path.length ? " " : ""}--help')`);
    }
    cmd = next;
    path.push(next.name);
    rest = rest.slice(1);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...HELP, ...cmd.options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split("\n")[0]} (see 'newsfeed ${path.join(" ")} --help')`);
  }
  if (parsed.values.help || (!cmd.run && cmd.subcommands)) {
    if (!parsed.values.help && rest.length === 0 && path.length > 0) {
      throw new UsageError(`'newsfeed ${path.join(" ")}' needs a command (see 'newsfeed ${path.join(" ")} --help')`);
    }
    out(helpText(path, cmd));
    return 0;
  }
  const [min, max] = cmd.arity ?? [0, 0];
  const n = parsed.positionals.length;
  if (n < min || n > max) {
    const what = n < min ? `missing ${cmd.args ?? "argument"}` : `unexpected argument '${parsed.positionals[max]}'`;
    throw new UsageError(`${what} (see 'newsfeed ${path.join(" ")} --help')`);
  }
  const code = await cmd.run!({ values: parsed.values as RunContext["values"], positionals: parsed.positionals });
  return code ?? 0;
}

import type { Command } from "../cli.ts";
import { describeConfig } from "../config.ts";
import { safeJson, table } from "../format.ts";

/** A value in the table: empty strings shown as "(empty)", as in the README. */
const shown = (v: unknown): string => (v === "" ? "(empty)" : String(v));

/** `config`: every setting, its effective value (secrets redacted) and where it came from. */
export const configCommand: Command = {
  name: "config",
  summary: "Print the effective configuration: every setting, its value (secrets redacted) and its source",
  options: { json: { type: "boolean" } },
  optionHelp: {
    json: 'print one JSON object: {"SETTING": {"value", "source": "env" | "default", "default"}, …}',
  },
  examples: [
    "pnpm newsfeed config",
    "pnpm --silent newsfeed config --json",
    "INGEST_CONCURRENCY=32 pnpm newsfeed config      # what a service started this way would use",
    "pnpm newsfeed config | grep -w env              # only what the environment sets",
    "# Secrets never print: a URL's password shows as user:***@, and a setting whose name holds",
    "# PASSWORD, SECRET, TOKEN or KEY as ***. An invalid value stops with one line naming the",
    "# setting (exit code 2), as every command does.",
  ],
  async run({ values }) {
    const settings = describeConfig();
    if (values.json) {
      console.log(safeJson(Object.fromEntries(settings.map((s) => [s.name, { value: s.value, source: s.source, default: s.default }]))));
      return 0;
    }
    console.log(table(["SETTING", "VALUE", "SOURCE"], settings.map((s) => [s.name, shown(s.value), s.source])));
    return 0;
  },
};

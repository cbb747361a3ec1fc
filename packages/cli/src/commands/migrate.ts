import { redactUrl, runMigrations } from "@newsfeed/store";
import type { Command } from "../cli.ts";
import { loadConfig } from "../config.ts";

export const migrateCommand: Command = {
  name: "migrate",
  summary: "Create the database if needed and apply pending migrations",
  options: { json: { type: "boolean" } },
  optionHelp: { json: "the result as one JSON object: {database, createdDatabase, applied, total}" },
  examples: [
    "pnpm newsfeed migrate",
    "DATABASE_URL=postgres://user@db:5432/newsfeed pnpm newsfeed migrate",
    "pnpm --silent newsfeed migrate --json | jq .applied",
  ],
  async run({ values }) {
    const config = loadConfig();
    const res = await runMigrations(config.DATABASE_URL);
    const where = redactUrl(config.DATABASE_URL);
    if (values.json) {
      console.log(JSON.stringify({ database: where, createdDatabase: res.createdDatabase, applied: res.applied, total: res.total }));
      return;
    }
    if (res.createdDatabase) console.log(`created database ${where}`);
    console.log(
      res.applied
        ? `applied ${res.applied} migration(s); schema at ${res.total} of ${res.total} (${where})`
        : `schema up to date: ${res.total} of ${res.total} migrations (${where})`,
    );
  },
};

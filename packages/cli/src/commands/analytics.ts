import { assertSchemaCurrent, refreshRollups, ROLLUPS } from "@newsfeed/store";
import type { Command } from "../cli.ts";
import { withDb } from "./shared.ts";

const refresh: Command = {
  name: "refresh",
  summary: "Recompute the analytics rollups (the last 7 days) now; readers keep the old rows until the new are in",
  options: { json: { type: "boolean" } },
  optionHelp: { json: "print what was refreshed as JSON" },
  examples: ["pnpm newsfeed analytics refresh", "pnpm newsfeed analytics refresh --json"],
  async run({ values }) {
    return withDb(async (db) => {
      await assertSchemaCurrent(db.pool);
      const t0 = Date.now();
      const r = await refreshRollups(db.pool);
      const seconds = (Date.now() - t0) / 1000;
      if (values.json) {
        console.log(JSON.stringify({ refreshed: r.refreshed, ms: r.ms, seconds }));
      } else if (!r.refreshed) {
        console.log("another process is refreshing the rollups right now: nothing to do");
      } else {
        console.log(`refreshed ${ROLLUPS.map((n) => `${n} (${r.ms[n]} ms)`).join(", ")} in ${seconds.toFixed(1)} s`);
      }
    });
  },
};

export const analyticsCommand: Command = {
  name: "analytics",
  summary: "Maintain the analysts' schema (docs/analysts.md)",
  subcommands: [refresh],
  examples: ["pnpm newsfeed analytics refresh"],
};

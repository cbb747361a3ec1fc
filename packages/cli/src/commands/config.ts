import type { Command } from "../cli.ts";

/** `config`: stub, to be written. */
export const configCommand: Command = {
  name: "config",
  summary: "Print the effective configuration, secrets redacted (not yet written)",
  examples: ["pnpm newsfeed config"],
  async run() {
    return 1;
  },
};

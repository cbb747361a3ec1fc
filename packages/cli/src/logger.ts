import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

/** The process's one root logger: JSON to stdout, readable on a terminal. */
export function createLogger(level: string, opts: { pretty?: boolean } = {}): Logger {
  const base = { level, redact: { paths: ["*.password", "*.DATABASE_URL", "*.REDIS_URL"], censor: "***" } };
  const usePretty = opts.pretty ?? process.stdout.isTTY === true;
  return usePretty ? pino(base, pretty({ colorize: true, sync: true })) : pino(base);
}

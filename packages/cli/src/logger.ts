import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

/**
 * The process's one root logger, at `level` (LOG_LEVEL): one JSON object per line on
 * stdout, or, when stdout is a terminal (or `pretty` says so), colored readable lines
 * through pino-pretty. Services bind their ids with child loggers: feedId (fetches),
 * jobId (worker jobs), storyKey (dedupe decisions); see docs/observability.md.
 */
export function createLogger(level: string, opts: { pretty?: boolean } = {}): Logger {
  const base = { level, redact: { paths: ["*.password", "*.DATABASE_URL", "*.REDIS_URL"], censor: "***" } };
  const usePretty = opts.pretty ?? process.stdout.isTTY === true;
  return usePretty
    ? pino(base, pretty({ colorize: true, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }))
    : pino(base);
}

/** The service runtime, for benches and embedders: the same code `newsfeed run` uses. */
export { loadConfig, configDefaults, envSchema, ConfigError, type Config } from "./config.ts";
export { createLogger } from "./logger.ts";
export { createRuntime, createIndex, dedupeSettings, startServices, closeOnSignal, type Runtime, type Role, type Services } from "./runtime.ts";
export { startSampleServer, type SampleServer } from "./sample/server.ts";

/** A store error with a stable code; `cause` keeps the driver's error. */
export class StoreError extends Error {
  constructor(
    readonly code: "SCHEMA_BEHIND" | "SCHEMA_AHEAD" | "DB_UNREACHABLE" | "INVALID_INPUT",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StoreError";
  }
}

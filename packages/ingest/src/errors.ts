/** Classified ingest failures; `code` is stored on the feed and the fetch as the error class. */
export type IngestErrorCode =
  | "timeout"
  | "connect_timeout"
  | "network"
  | "http_status"
  | "too_large"
  | "bad_encoding"
  | "gone"
  | "parse"
  | "unsafe_xml"
  | "invalid_url"
  | "blocked_address"
  | "redirect_loop"
  | "too_many_redirects"
  | "internal";

export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options);
    this.name = "IngestError";
    this.status = options?.status;
  }
  readonly status: number | undefined;
}

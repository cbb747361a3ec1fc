/**
 * Progress of long work, on stderr: a bar redrawn in place on a terminal, plain
 * periodic lines elsewhere (CI logs, files), so stdout keeps only the result.
 */

export interface ProgressStream {
  isTTY?: boolean;
  write(s: string): boolean;
}

export interface ProgressOptions {
  /** What is being done, e.g. "replaying fetches". */
  label: string;
  /** Units of work in all, when known (a bar and a percentage need it). */
  total?: number;
  /** Default: process.stderr. */
  stream?: ProgressStream;
  /** Plain lines: at most one per this many ms (default 5,000). */
  lineIntervalMs?: number;
  /** Terminal: redraw at most once per this many ms (default 100). */
  redrawMs?: number;
  now?: () => number;
}

const BAR = 24;
const fmt = (n: number) => n.toLocaleString("en-US");

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private last = -Infinity;
  private drawn = false;
  private done = 0;
  private detail = "";
  private lastLine = "";

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.now = opts.now ?? Date.now;
  }

  /** Sets the total once it is known. */
  setTotal(total: number): void {
    this.opts.total = total;
  }

  /** Reports `done` units finished so far, with an optional short detail ("412 new"). */
  update(done: number, detail = ""): void {
    this.done = done;
    this.detail = detail;
    const t = this.now();
    if (t - this.last < (this.tty ? (this.opts.redrawMs ?? 100) : (this.opts.lineIntervalMs ?? 5_000))) return;
    this.last = t;
    this.draw();
  }

  /** Draws the final state (a terminal's bar is ended with a newline). */
  finish(): void {
    if (this.tty) {
      this.draw();
      this.stream.write("\n");
    } else if (this.drawn && this.text() !== this.lastLine) {
      // The final state, unless the last line already said it.
      this.draw();
    }
  }

  /** The text of one report, without control characters. */
  text(): string {
    const total = this.opts.total;
    const count = total !== undefined ? `${fmt(this.done)}/${fmt(total)}` : fmt(this.done);
    const pct = total ? ` ${Math.min(100, Math.floor((this.done / total) * 100))}%` : "";
    return `${this.opts.label}: ${count}${pct}${this.detail ? ` (${this.detail})` : ""}`;
  }

  private draw(): void {
    this.drawn = true;
    if (!this.tty) {
      this.lastLine = this.text();
      this.stream.write(`${this.lastLine}\n`);
      return;
    }
    const total = this.opts.total;
    const filled = total ? Math.min(BAR, Math.round((this.done / total) * BAR)) : 0;
    const bar = total ? `[${"#".repeat(filled)}${".".repeat(BAR - filled)}] ` : "";
    this.stream.write(`\r\u001b[2K${bar}${this.text()}`);
  }
}

/** What a replay did: every replay ends with this, as a line or as JSON. */
export interface ReplaySummary {
  /** Units read: items, or jobs for `replay failed`. */
  read: number;
  new: number;
  updated: number;
  unchanged: number;
  failed: number;
  dryRun: boolean;
}

export const emptySummary = (dryRun: boolean): ReplaySummary => ({ read: 0, new: 0, updated: 0, unchanged: 0, failed: 0, dryRun });

/** "read 120, new 3, updated 1, unchanged 116, failed 0" (with "would be" on a dry run). */
export function summaryLine(what: string, s: ReplaySummary): string {
  const verb = s.dryRun ? "dry run, nothing changed: would be " : "";
  return `${what}: read ${fmt(s.read)}; ${verb}new ${fmt(s.new)}, updated ${fmt(s.updated)}, unchanged ${fmt(s.unchanged)}, failed ${fmt(s.failed)}`;
}

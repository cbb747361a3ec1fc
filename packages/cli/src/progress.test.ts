import { describe, expect, it } from "vitest";
import { emptySummary, Progress, summaryLine, type ProgressOptions } from "./progress.ts";

/** A stream that keeps what is written, and a clock the test moves. */
function harness(tty: boolean, opts: Partial<ProgressOptions> = {}) {
  const writes: string[] = [];
  let clock = 1_000_000;
  const progress = new Progress({
    label: "replaying",
    stream: { isTTY: tty, write: (s) => (writes.push(s), true) },
    now: () => clock,
    ...opts,
  });
  return { progress, writes, advance: (ms: number) => (clock += ms) };
}

describe("Progress.text", () => {
  it.each([
    { total: undefined, done: 5, detail: "", want: "replaying: 5" },
    { total: undefined, done: 1234, detail: "3 new", want: "replaying: 1,234 (3 new)" },
    { total: 10, done: 5, detail: "", want: "replaying: 5/10 50%" },
    { total: 3, done: 1, detail: "x", want: "replaying: 1/3 33% (x)" },
    { total: 10, done: 12, detail: "", want: "replaying: 12/10 100%" },
    { total: 0, done: 0, detail: "", want: "replaying: 0/0" },
  ])("total $total, done $done, detail '$detail' → $want", ({ total, done, detail, want }) => {
    const { progress } = harness(false, { total });
    progress.update(done, detail);
    expect(progress.text()).toBe(want);
  });

  it("takes a total set later", () => {
    const { progress } = harness(false);
    progress.setTotal(4);
    progress.update(1);
    expect(progress.text()).toBe("replaying: 1/4 25%");
  });
});

describe("Progress output", () => {
  it.each([
    {
      name: "not a TTY: one plain line per interval, none in between",
      tty: false,
      steps: [[0, 1], [1_000, 2], [4_000, 3], [1_000, 4]] as [number, number][],
      want: ["replaying: 1/10 10%\n", "replaying: 3/10 30%\n"],
    },
    {
      name: "not a TTY, a custom interval",
      tty: false,
      opts: { lineIntervalMs: 100 },
      steps: [[0, 1], [100, 2], [50, 3], [50, 4]] as [number, number][],
      want: ["replaying: 1/10 10%\n", "replaying: 2/10 20%\n", "replaying: 4/10 40%\n"],
    },
    {
      name: "a TTY: the bar redrawn in place, at most once per redraw interval",
      tty: true,
      steps: [[0, 1], [50, 2], [60, 5]] as [number, number][],
      want: [
        `\r\u001b[2K[##......................] replaying: 1/10 10%`,
        `\r\u001b[2K[############............] replaying: 5/10 50%`,
      ],
    },
  ])("$name", ({ tty, opts, steps, want }) => {
    const { progress, writes, advance } = harness(tty, { total: 10, ...opts });
    for (const [ms, done] of steps) {
      advance(ms);
      progress.update(done);
    }
    expect(writes).toEqual(want);
  });

  it.each([
    { name: "not a TTY, nothing drawn: finish prints nothing", tty: false, updates: 0, want: [] as string[] },
    {
      name: "not a TTY: finish prints the final state once",
      tty: false,
      updates: 3,
      want: ["replaying: 1/3 33%\n", "replaying: 3/3 100%\n"],
    },
    {
      name: "a TTY: finish draws the final bar and ends the line",
      tty: true,
      updates: 3,
      want: [
        `\r\u001b[2K[########................] replaying: 1/3 33%`,
        `\r\u001b[2K[########################] replaying: 3/3 100%`,
        "\n",
      ],
    },
  ])("$name", ({ tty, updates, want }) => {
    const { progress, writes, advance } = harness(tty, { total: 3 });
    for (let i = 1; i <= updates; i++) {
      progress.update(i);
      advance(10);
    }
    progress.finish();
    expect(writes).toEqual(want);
  });

  it("does not repeat a plain line that already gave the final state", () => {
    const { progress, writes } = harness(false, { total: 2 });
    progress.update(2);
    progress.finish();
    expect(writes).toEqual(["replaying: 2/2 100%\n"]);
  });
});

describe("summaryLine", () => {
  it.each([
    {
      s: { ...emptySummary(false), read: 1200, new: 3, updated: 1, unchanged: 1196 },
      want: "replay: read 1,200; new 3, updated 1, unchanged 1,196, failed 0",
    },
    {
      s: { ...emptySummary(true), read: 2, new: 2 },
      want: "replay: read 2; dry run, nothing changed: would be new 2, updated 0, unchanged 0, failed 0",
    },
  ])("$want", ({ s, want }) => {
    expect(summaryLine("replay", s)).toBe(want);
  });
});

import { defineConfig } from "vitest/config";
import type { Reporter, TestModule } from "vitest/node";

/** Ends the run with a plain "N passed, N failed, N skipped" line that any CI can read. */
const summaryLine: Reporter = {
  onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    const n = { passed: 0, failed: 0, skipped: 0 };
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === "passed") n.passed++;
        else if (state === "failed") n.failed++;
        else n.skipped++;
      }
      if (m.state() === "failed" && [...m.children.allTests()].length === 0) n.failed++;
    }
    process.stdout.write(`\nvitest: ${n.passed} passed, ${n.failed} failed, ${n.skipped} skipped\n`);
  },
};

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    reporters: ["default", summaryLine],
  },
});

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createDb, type DbHandle } from "@newsfeed/store";
import { createTestDatabase, type TestDatabase } from "@newsfeed/store/testing";

let t: TestDatabase;
let handle: DbHandle;
beforeAll(async () => {
  t = await createTestDatabase();
  handle = createDb(t.url, { max: 2, applicationName: "client-test" });
});
afterAll(async () => {
  await handle?.close();
  await t.drop();
});

describe("createDb", () => {
  // A Postgres restart terminates every backend (57P01). pg reports a checked-out
  // client's lost connection as an 'error' event on that client; without a
  // listener that event is an uncaught exception and the service dies (found by
  // bench:chaos). Vitest fails the run on an uncaught exception.
  it.each([
    ["a checked-out client", true],
    ["an idle client", false],
  ])("survives the server terminating %s, and the pool reconnects", async (_name, checkedOut) => {
    const client = await handle.pool.connect();
    const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    const pid = rows[0]!.pid;
    if (!checkedOut) client.release();
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on("uncaughtException", onUncaught);
    try {
      await t.pool.query("SELECT pg_terminate_backend($1)", [pid]);
      if (checkedOut) {
        await vi.waitFor(async () => {
          await expect(client.query("SELECT 1")).rejects.toThrow();
        });
        client.release(true);
      } else {
        await vi.waitFor(() => expect(handle.pool.idleCount).toBe(0));
      }
      await expect(handle.pool.query("SELECT 1 AS one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
    }
  });
});

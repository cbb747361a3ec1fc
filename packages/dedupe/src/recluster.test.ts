import { describe, expect, it } from "vitest";
import { derivedKey, keyCandidates, planClusters, type ClusterPlanInput } from "./recluster.ts";

const m = <K, V>(entries: [K, V][]) => new Map(entries);

/** Old stories 1 "AB", 2 "C1", 3 "C23", 4 "D"; clusters named by their founder's ref. */
function misclustered(): ClusterPlanInput {
  return {
    clusters: m([
      ["refA", m([[1, 3]])],
      ["refB", m([[1, 3]])],
      ["refC", m([[2, 1], [3, 2]])],
      ["refD", m([[4, 3]])],
    ]),
    pinned: new Map(),
    outside: new Set(),
    oldKeys: m([[1, "AB"], [2, "C1"], [3, "C23"], [4, "D"]]),
    existing: new Map(),
  };
}

describe("planClusters", () => {
  it("keeps each story with the cluster most of its items are in, creates one for the rest, and counts", () => {
    const plan = planClusters(misclustered());
    expect(Object.fromEntries(plan.target)).toEqual({
      refA: { key: "AB", id: 1 }, // tie with refB on overlap and story: the smaller cluster key
      refB: { key: "refB", id: null },
      refC: { key: "C23", id: 3 },
      refD: { key: "D", id: 4 },
    });
    expect(Object.fromEntries(plan.mergeInto)).toEqual({ 2: "C23" });
    expect(plan.changes).toEqual({ before: 4, after: 4, stayed: 1, split: 1, merged: 1, created: 1, emptied: 1 });
  });

  it("plans nothing once the stories match the clusters", () => {
    const plan = planClusters({
      clusters: m([["refA", m([[1, 3]])], ["refB", m([[5, 3]])], ["refC", m([[3, 3]])], ["refD", m([[4, 3]])]]),
      pinned: new Map(),
      outside: new Set(),
      oldKeys: m([[1, "AB"], [5, "refB"], [3, "C23"], [4, "D"]]),
      existing: new Map(),
    });
    expect([...plan.target.values()].every((t) => t.id !== null)).toBe(true);
    expect(plan.mergeInto.size).toBe(0);
    expect(plan.changes).toEqual({ before: 4, after: 4, stayed: 4, split: 0, merged: 0, created: 0, emptied: 0 });
  });

  it("sends a cluster that joined a story outside the window there, and leaves a story's outside items in it", () => {
    // Story 7 "OUT" has items outside the window; the window's A items (story 1, with B) joined it.
    // Story 8 "SPAN" has items on both sides, but its window item matches nothing now.
    const plan = planClusters({
      clusters: m([["c7", m([[1, 2]])], ["refB", m([[1, 3]])], ["refS", m([[8, 1]])]]),
      pinned: m([["c7", { id: 7, key: "OUT" }]]),
      outside: new Set([8]),
      oldKeys: m([[1, "AB"], [8, "SPAN"]]),
      existing: m([["refS", { id: 8, mergedIntoId: null, hasMembers: true }]]),
    });
    expect(plan.target.get("c7")).toEqual({ key: "OUT", id: 7 });
    expect(plan.target.get("refB")).toEqual({ key: "AB", id: 1 });
    // "refS" is story 8's key (its founder) but story 8 keeps its outside items: a derived key.
    expect(plan.target.get("refS")).toEqual({ key: derivedKey("refS"), id: null });
    expect(plan.changes).toMatchObject({ before: 2, after: 3, stayed: 0, split: 2, merged: 1, created: 1, emptied: 0 });
  });

  it("does not reuse a merged story's key, and reuses an empty one", () => {
    const plan = planClusters({
      clusters: m([["refX", m([[1, 1]])], ["refY", m([[1, 1]])], ["refZ", m([[1, 2]])]]),
      pinned: new Map(),
      outside: new Set(),
      oldKeys: m([[1, "OLD"]]),
      existing: m([
        ["refX", { id: 20, mergedIntoId: 3, hasMembers: false }],
        ["refY", { id: 21, mergedIntoId: null, hasMembers: false }],
      ]),
    });
    expect(plan.target.get("refZ")).toEqual({ key: "OLD", id: 1 });
    expect(plan.target.get("refX")).toEqual({ key: derivedKey("refX"), id: null });
    expect(plan.target.get("refY")).toEqual({ key: "refY", id: 21 });
    expect(plan.changes).toMatchObject({ split: 1, merged: 0, created: 1 });
  });

  it("derives keys deterministically, 16 printable characters each", () => {
    const keys = keyCandidates("abcdefghijklmnop");
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(4);
    for (const k of keys) expect(k).toMatch(/^[\x21-\x7e]{1,16}$/);
    expect(keyCandidates("abcdefghijklmnop")).toEqual(keys);
  });
});

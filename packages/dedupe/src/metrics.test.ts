import { register } from "prom-client";
import { describe, expect, it } from "vitest";
import { decisionsOf, observeSave } from "./metrics.ts";

const save = (over: Partial<Parameters<typeof decisionsOf>[0]> = {}) => ({
  itemsInserted: 0, itemsUpdated: 0, storiesCreated: 0, membershipsAdded: 0, storiesUpdated: 0, storiesMerged: 0, ...over,
});

describe("dedupe decisions", () => {
  it("reads the decisions of a committed batch from its SaveResult", () => {
    // 5 new items: 2 founded stories, 3 joined (one of which merged two stories).
    expect(decisionsOf(save({ itemsInserted: 5, storiesCreated: 2, membershipsAdded: 5, storiesMerged: 1 }))).toEqual({
      new_story: 2, joined: 3, merged: 1,
    });
    // A re-delivery stores nothing and decides nothing.
    expect(decisionsOf(save())).toEqual({ new_story: 0, joined: 0, merged: 0 });
  });

  it("counts them under newsfeed_dedupe_decisions_total, with the items stored", async () => {
    const value = async (name: string, label: string, v: string) =>
      (await register.getSingleMetric(name)!.get()).values.find((x) => (x.labels as Record<string, unknown>)[label] === v)?.value;
    expect(await value("newsfeed_dedupe_decisions_total", "decision", "merged")).toBe(0);
    observeSave(save({ itemsInserted: 3, itemsUpdated: 1, storiesCreated: 1, membershipsAdded: 3 }));
    expect(await value("newsfeed_dedupe_decisions_total", "decision", "new_story")).toBe(1);
    expect(await value("newsfeed_dedupe_decisions_total", "decision", "joined")).toBe(2);
    expect(await value("newsfeed_dedupe_decisions_total", "decision", "merged")).toBe(0);
    expect(await value("newsfeed_items_stored_total", "kind", "inserted")).toBe(3);
    expect(await value("newsfeed_items_stored_total", "kind", "updated")).toBe(1);
  });
});

import { describe, expect, it } from "vitest";
import { contributorValues, dataBlocks } from "./blocks";

describe("data blocks", () => {
  it("give each contributor its own rows and a shared block for rows several hold", () => {
    const blocks = dataBlocks([
      ["r1", "r2", "r3"],
      ["r3", "r4"],
      ["r4", "r3", "r4"],
    ]);
    expect(blocks.map((b) => b.holders)).toEqual([[0], [0, 1, 2], [1, 2]]);
    // Pooled indices of first occurrences: r1=0, r2=1, r3=2, r4=4.
    expect(blocks.map((b) => b.indices)).toEqual([[0, 1], [2], [4]]);
  });

  it("treat a copied shard as one block shared by both holders", () => {
    const blocks = dataBlocks([
      ["a1", "a2"],
      ["b1", "b2"],
      ["b2", "b1"],
    ]);
    expect(blocks.map((b) => b.holders)).toEqual([[0], [1, 2]]);
  });

  it("have keys that depend on content only", () => {
    const one = dataBlocks([["x", "y"]]);
    const two = dataBlocks([[], ["x", "y"]]);
    expect(one[0]?.key).toBe(two[0]?.key);
  });

  it("split a shared block's value equally among its holders", () => {
    const blocks = dataBlocks([["a"], ["b"], ["b"]]);
    expect(contributorValues(blocks, [0.3, 0.2], 3)).toEqual([0.3, 0.1, 0.1]);
  });
});

import { type Hex, keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { MerkleTree, MerkleTreeError, receiptLeaf, verifyMerkleProof } from "./merkle";
import type { Receipt } from "./typedData";

const leaves = (n: number): Hex[] => Array.from({ length: n }, (_, i) => keccak256(toHex(`leaf ${i}`)));

describe("MerkleTree", () => {
  it("proves every leaf of trees of many sizes, odd ones included", () => {
    for (const n of [1, 2, 3, 5, 8, 13, 64, 100]) {
      const list = leaves(n);
      const tree = new MerkleTree(list);
      list.forEach((leaf, i) => {
        expect(verifyMerkleProof(leaf, tree.proof(i), tree.root)).toBe(true);
        expect(tree.proof(i).length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
      });
    }
  });

  it("builds the same tree a slice at a time, giving the event loop turns meanwhile", async () => {
    for (const n of [1, 2, 7, 100]) {
      const list = leaves(n);
      const built = await MerkleTree.build(list, undefined, 8);
      const direct = new MerkleTree(list);
      expect(built.root).toBe(direct.root);
      expect(list.map((_, i) => built.proof(i))).toEqual(list.map((_, i) => direct.proof(i)));
    }
    let turns = 0;
    let building = true;
    const count = () => {
      turns++;
      if (building) setImmediate(count);
    };
    setImmediate(count);
    await MerkleTree.build(leaves(200), undefined, 10); // 199 hashes: 19 pauses
    building = false;
    expect(turns).toBeGreaterThanOrEqual(19); // other work ran at each pause
    await expect(MerkleTree.build([])).rejects.toThrow(MerkleTreeError);
  });

  it("rejects a leaf that is not in the tree and a proof for another position", () => {
    const list = leaves(9);
    const tree = new MerkleTree(list);
    expect(verifyMerkleProof(keccak256(toHex("stranger")), tree.proof(0), tree.root)).toBe(false);
    expect(verifyMerkleProof(list[3] as Hex, tree.proof(4), tree.root)).toBe(false);
  });

  it("has the single leaf as root and refuses empty trees and bad indexes", () => {
    const [only] = leaves(1) as [Hex];
    expect(new MerkleTree([only]).root).toBe(only);
    expect(() => new MerkleTree([])).toThrow(MerkleTreeError);
    expect(() => new MerkleTree(leaves(3)).proof(3)).toThrow(/outside a tree of 3 leaves/);
  });

  it("gives different receipts different leaves", () => {
    const receipt: Receipt = {
      requestHash: keccak256(toHex("request")),
      modelId: 1n,
      adapterHash: keccak256(toHex("adapter")),
      outputHash: keccak256(toHex("output")),
      channelId: 7n,
      callIndex: 1n,
    };
    expect(receiptLeaf(receipt)).not.toBe(receiptLeaf({ ...receipt, callIndex: 2n }));
    expect(receiptLeaf(receipt)).toMatch(/^0x[0-9a-f]{64}$/);
  });
});

import { type Hex, keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { MerkleTree, MerkleTreeError, verifyMerkleProof } from "../../../sdk/protocol/merkle";
import { ReceiptTree } from "./receiptTree";

const leavesOf = (count: number) => Array.from({ length: count }, (_, i) => keccak256(toHex(`leaf ${i}`)));

describe("ReceiptTree", () => {
  it("is the SDK's Merkle tree: the same root and proofs for every size, odd ones included", async () => {
    for (const size of [1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 1_025, 2_049]) {
      const leaves = leavesOf(size);
      const tree = await ReceiptTree.build(leaves);
      const reference = new MerkleTree(leaves);
      expect(tree.size).toBe(size);
      expect(tree.root).toBe(reference.root);
      for (const index of new Set([0, 1, size >> 1, size - 2, size - 1].filter((i) => i >= 0 && i < size))) {
        expect(tree.proof(index)).toEqual(reference.proof(index));
        expect(verifyMerkleProof(leaves[index] as Hex, tree.proof(index), tree.root)).toBe(true);
      }
    }
  });

  it("takes leaves in either case, and refuses no leaves, a malformed leaf or a leaf index out of range", async () => {
    const leaves = leavesOf(6);
    const upper = leaves.map((leaf) => `0x${leaf.slice(2).toUpperCase()}` as Hex);
    expect((await ReceiptTree.build(upper)).root).toBe((await ReceiptTree.build(leaves)).root);
    await expect(ReceiptTree.build([])).rejects.toThrow(MerkleTreeError);
    await expect(ReceiptTree.build([...leaves, "0x1234"])).rejects.toThrow(
      /leaf 6 is not a 32-byte hex hash/,
    );
    await expect(ReceiptTree.build([`0x${"zz".repeat(32)}`])).rejects.toThrow(/leaf 0/);
    const tree = await ReceiptTree.build(leaves);
    expect(() => tree.proof(6)).toThrow(/outside a tree of 6 leaves/);
    expect(() => tree.proof(-1)).toThrow(MerkleTreeError);
  });

  it("lets other work run while it hashes a large batch", async () => {
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    await ReceiptTree.build(leavesOf(20_000));
    clearInterval(ticker);
    expect(turns).toBeGreaterThan(0);
  });
});

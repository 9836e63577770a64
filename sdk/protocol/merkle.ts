/**
 * Merkle trees of receipts, as `Settlement` stores and verifies them: inner nodes hash the
 * sorted pair of children (OpenZeppelin MerkleProof convention); a receipt's leaf is
 * keccak256(abi.encode(receiptStructHash)).
 */
import { concat, encodeAbiParameters, type Hex, hashStruct, keccak256 } from "viem";
import { type Receipt, receiptTypes } from "./typedData";

export class MerkleTreeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MerkleTreeError";
  }
}

export function receiptStructHash(receipt: Receipt): Hex {
  return hashStruct({ data: receipt, primaryType: "Receipt", types: receiptTypes });
}

export function receiptLeaf(receipt: Receipt): Hex {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }], [receiptStructHash(receipt)]));
}

/** keccak256 over hex; a runner may pass a native one (the tree's hashing is its hot path). */
export type Keccak256Hex = (data: Hex) => Hex;

const viemKeccak: Keccak256Hex = (data) => keccak256(data);

/** Sorted-pair hash. Nodes are 32-byte hex of equal length, so string order is numeric order. */
function hashPair(a: Hex, b: Hex, hash: Keccak256Hex = viemKeccak): Hex {
  const x = a.toLowerCase() as Hex;
  const y = b.toLowerCase() as Hex;
  return x < y ? hash(concat([x, y])) : hash(concat([y, x]));
}

/**
 * A tree over leaves in the order given. An odd node at the end of a level is promoted to the
 * next level unchanged, so the proof of any leaf is at most ceil(log2(n)) hashes.
 */
export class MerkleTree {
  private readonly levels: Hex[][];

  constructor(leaves: readonly Hex[], hash: Keccak256Hex = viemKeccak) {
    if (leaves.length === 0) throw new MerkleTreeError("a Merkle tree needs at least one leaf");
    this.levels = [[...leaves]];
    for (let level = this.levels[0] as Hex[]; level.length > 1; ) {
      const next: Hex[] = [];
      for (let i = 0; i < level.length; i += 2) {
        const left = level[i] as Hex;
        const right = level[i + 1];
        next.push(right === undefined ? left : hashPair(left, right, hash));
      }
      this.levels.push(next);
      level = next;
    }
  }

  get root(): Hex {
    return (this.levels.at(-1) as Hex[])[0] as Hex;
  }

  get size(): number {
    return (this.levels[0] as Hex[]).length;
  }

  /** Sibling hashes from the leaf up to the root. */
  proof(index: number): Hex[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new MerkleTreeError(`leaf index ${index} is outside a tree of ${this.size} leaves`);
    }
    const proof: Hex[] = [];
    for (const level of this.levels.slice(0, -1)) {
      const sibling = level[index ^ 1];
      if (sibling !== undefined) proof.push(sibling);
      index >>= 1;
    }
    return proof;
  }
}

/** Recomputes the root from a leaf and its proof, as MerkleProof.verify does on-chain. */
export function verifyMerkleProof(leaf: Hex, proof: readonly Hex[], root: Hex): boolean {
  return proof.reduce((node, sibling) => hashPair(node, sibling), leaf).toLowerCase() === root.toLowerCase();
}

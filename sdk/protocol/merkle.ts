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

/** Hashes the levels above `leaves`, pausing (yielding) after every `pauseEvery` hashes. */
function* hashLevels(
  leaves: readonly Hex[],
  hash: Keccak256Hex,
  pauseEvery: number,
): Generator<void, Hex[][]> {
  if (leaves.length === 0) throw new MerkleTreeError("a Merkle tree needs at least one leaf");
  const levels: Hex[][] = [[...leaves]];
  let hashed = 0;
  for (let level = levels[0] as Hex[]; level.length > 1; ) {
    const next: Hex[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Hex;
      const right = level[i + 1];
      next.push(right === undefined ? left : hashPair(left, right, hash));
      if (++hashed % pauseEvery === 0) yield;
    }
    levels.push(next);
    level = next;
  }
  return levels;
}

/** Levels built by MerkleTree.build; not exported, so only this module makes them. */
class BuiltLevels {
  constructor(readonly levels: Hex[][]) {}
}

const nextTurn = () => new Promise<void>((resolve) => (globalThis.setImmediate ?? setTimeout)(resolve));

/**
 * A tree over leaves in the order given. An odd node at the end of a level is promoted to the
 * next level unchanged, so the proof of any leaf is at most ceil(log2(n)) hashes.
 */
export class MerkleTree {
  private readonly levels: Hex[][];

  constructor(leaves: readonly Hex[] | BuiltLevels, hash: Keccak256Hex = viemKeccak) {
    if (leaves instanceof BuiltLevels) {
      this.levels = leaves.levels;
      return;
    }
    const building = hashLevels(leaves, hash, Number.POSITIVE_INFINITY);
    let step = building.next();
    while (!step.done) step = building.next();
    this.levels = step.value;
  }

  /**
   * The same tree, built a slice at a time: it gives the event loop a turn after every
   * `hashesPerTurn` hashes, so that a server building a large batch's tree keeps answering.
   */
  static async build(
    leaves: readonly Hex[],
    hash: Keccak256Hex = viemKeccak,
    hashesPerTurn = 512,
  ): Promise<MerkleTree> {
    const building = hashLevels(leaves, hash, hashesPerTurn);
    let step = building.next();
    while (!step.done) {
      await nextTurn();
      step = building.next();
    }
    return new MerkleTree(new BuiltLevels(step.value));
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

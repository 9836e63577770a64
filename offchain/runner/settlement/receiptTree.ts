/**
 * A settlement batch's Merkle tree, as the runner builds it: the same tree as the SDK's
 * MerkleTree (sorted pairs, an odd last node promoted unchanged), with its levels kept as bytes
 * and hashed natively a level slice at a time. A batch of thousands of receipts is hashed while
 * paid calls are being answered, so no slice may hold the event loop for long; proofs, which
 * are rare, are turned into hex when asked for.
 */
import type { Hex } from "viem";
import { MerkleTreeError } from "../../../sdk/protocol/merkle";
import { cryptoBackend } from "../../crypto/nativeBackend";

const NODE = 32;
/** Leaves decoded, or pairs hashed, per turn of the event loop: well under a millisecond each. */
const PER_TURN = 1024;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const toHex = (node: Uint8Array): Hex =>
  `0x${Buffer.from(node.buffer, node.byteOffset, NODE).toString("hex")}`;

export class ReceiptTree {
  /** levels[0] holds the leaves; each level is its nodes' 32-byte hashes end to end. */
  private constructor(private readonly levels: Buffer[]) {}

  static async build(leaves: readonly Hex[]): Promise<ReceiptTree> {
    if (leaves.length === 0) throw new MerkleTreeError("a Merkle tree needs at least one leaf");
    const levels = [await decodeLeaves(leaves)];
    for (let level = levels[0] as Buffer; level.length > NODE; ) {
      level = await parentsOf(level);
      levels.push(level);
    }
    return new ReceiptTree(levels);
  }

  get root(): Hex {
    return toHex(this.levels.at(-1) as Buffer);
  }

  get size(): number {
    return (this.levels[0] as Buffer).length / NODE;
  }

  /** Sibling hashes from the leaf up to the root. */
  proof(index: number): Hex[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new MerkleTreeError(`leaf index ${index} is outside a tree of ${this.size} leaves`);
    }
    const proof: Hex[] = [];
    for (const level of this.levels.slice(0, -1)) {
      const sibling = (index ^ 1) * NODE;
      if (sibling < level.length) proof.push(toHex(level.subarray(sibling, sibling + NODE)));
      index >>= 1;
    }
    return proof;
  }
}

async function decodeLeaves(leaves: readonly Hex[]): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(leaves.length * NODE);
  for (let i = 0; i < leaves.length; i++) {
    if (i > 0 && i % PER_TURN === 0) await nextTurn();
    const leaf = leaves[i] as Hex;
    if (leaf.length !== 2 + 2 * NODE || bytes.write(leaf.slice(2), i * NODE, "hex") !== NODE)
      throw new MerkleTreeError(`leaf ${i} is not a 32-byte hex hash: ${leaf}`);
  }
  return bytes;
}

/** The level above `level`: its pairs hashed, an odd last node carried up as it is. */
async function parentsOf(level: Buffer): Promise<Buffer> {
  const nodes = level.length / NODE;
  const pairs = Math.floor(nodes / 2);
  const parents = Buffer.allocUnsafe(Math.ceil(nodes / 2) * NODE);
  for (let pair = 0; pair < pairs; pair += PER_TURN) {
    if (pair > 0) await nextTurn();
    const end = Math.min(pairs, pair + PER_TURN);
    cryptoBackend.hashSortedPairs(
      level.subarray(pair * 2 * NODE, end * 2 * NODE),
      parents.subarray(pair * NODE, end * NODE),
    );
  }
  if (nodes % 2 === 1) level.copy(parents, pairs * NODE, (nodes - 1) * NODE);
  return parents;
}

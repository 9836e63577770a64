import { keccak256, toHex } from "viem";
import { MerkleTree } from "../sdk/protocol/merkle";
import { keccak256HexNative } from "./payments/nativeHashes";

const leaves = Array.from({ length: 5000 }, (_, i) => keccak256(toHex(i)));
for (let r = 0; r < 3; r++) {
  let t = performance.now();
  const a = new MerkleTree(leaves, keccak256HexNative);
  const d1 = performance.now() - t;
  t = performance.now();
  const b = new MerkleTree(leaves.slice(0, 500), keccak256HexNative);
  const d2 = performance.now() - t;
  console.log(
    "5000 leaves",
    d1.toFixed(1),
    "ms; 500 leaves",
    d2.toFixed(2),
    "ms",
    a.root.slice(0, 10),
    b.size,
  );
}

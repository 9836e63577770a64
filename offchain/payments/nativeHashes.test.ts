import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { MerkleTree, receiptLeaf } from "../../sdk/protocol/merkle";
import { extendTranscript, requestHash } from "../../sdk/protocol/typedData";
import {
  extendTranscriptNative,
  keccak256HexNative,
  receiptLeafNative,
  requestHashNative,
} from "./nativeHashes";

describe("native per-call hashes", () => {
  it("equal the SDK's request hash and transcript chain", () => {
    for (const [channel, model, index, body] of [
      [0n, 0n, 0n, ""],
      [1n, 2n, 3n, '{"inputs":[]}'],
      [2n ** 255n, 2n ** 200n + 7n, 2n ** 64n - 1n, "x".repeat(5000)],
    ] as const) {
      expect(requestHashNative(channel, model, index, body)).toBe(requestHash(channel, model, index, body));
      const bytes = new TextEncoder().encode(body);
      expect(requestHashNative(channel, model, index, bytes)).toBe(requestHash(channel, model, index, bytes));
    }
    const previous = keccak256(toHex("previous"));
    const hash = keccak256(toHex("request"));
    expect(extendTranscriptNative(previous, hash)).toBe(extendTranscript(previous, hash));
  });

  it("refuse a number that does not fit in uint256, as the SDK's ABI encoding does", () => {
    for (const channel of [2n ** 256n, 2n ** 256n + 3n, -1n]) {
      expect(() => requestHashNative(channel, 1n, 1n, "")).toThrow(RangeError);
      expect(() => requestHash(channel, 1n, 1n, "")).toThrow();
    }
  });

  it("equal the SDK's receipt leaves and Merkle root", () => {
    const receipts = Array.from({ length: 7 }, (_, i) => ({
      requestHash: keccak256(toHex(`request ${i}`)),
      modelId: BigInt(i + 1) * 2n ** 128n,
      adapterHash: keccak256(toHex(`adapter ${i % 2}`)),
      outputHash: keccak256(toHex(`output ${i}`)),
      channelId: 2n ** 256n - 1n - BigInt(i),
      callIndex: 2n ** 64n - 1n - BigInt(i),
    }));
    const leaves = receipts.map(receiptLeafNative);
    expect(leaves).toEqual(receipts.map(receiptLeaf));
    expect(new MerkleTree(leaves, keccak256HexNative).root).toBe(new MerkleTree(leaves).root);
  });
});

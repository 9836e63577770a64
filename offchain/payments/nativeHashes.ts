/**
 * The per-call hashes of docs/protocol/typed-data.md on native keccak, for the runner's hot path
 * and the HTTP load generator: the same values as sdk/protocol/typedData.ts (tests hold them
 * equal), without viem's generic ABI encoder and pure-JS keccak.
 */
import type { Hex } from "viem";
import type { Receipt } from "../../sdk/protocol/typedData";
import { bytesToHexFast, hexToBytesFast, keccak256Bytes } from "../crypto/keccak";
import { receiptLeafOfStructHash, receiptStructHashNative } from "./receiptSigner";

function writeWord(out: Uint8Array, offset: number, value: bigint) {
  // Cut to 256 bits, 2^256 + c would hash as c: refuse it, as viem's ABI encoder does.
  if (value < 0n || value >= 1n << 256n) throw new RangeError(`${value} does not fit in a uint256 word`);
  let v = value;
  for (let i = offset + 31; i >= offset && v > 0n; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** keccak256(abi.encode(channelId, modelId, callIndex, keccak256(body))). */
export function requestHashNative(
  channelId: bigint,
  modelId: bigint,
  callIndex: bigint,
  body: Uint8Array | string,
): Hex {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const words = new Uint8Array(128);
  writeWord(words, 0, channelId);
  writeWord(words, 32, modelId);
  writeWord(words, 64, callIndex);
  words.set(keccak256Bytes(bytes), 96);
  return bytesToHexFast(keccak256Bytes(words));
}

/** keccak256(abi.encode(previous, requestHash)). */
export function extendTranscriptNative(previous: Hex, requestHash: Hex): Hex {
  const words = new Uint8Array(64);
  words.set(hexToBytesFast(previous), 0);
  words.set(hexToBytesFast(requestHash), 32);
  return bytesToHexFast(keccak256Bytes(words));
}

/** A receipt's Merkle leaf, keccak256(abi.encode(hashStruct(receipt))), as the SDK's receiptLeaf. */
export function receiptLeafNative(receipt: Receipt): Hex {
  return receiptLeafOfStructHash(receiptStructHashNative(receipt));
}

/** keccak256 of hex data, for MerkleTree's inner nodes. */
export function keccak256HexNative(data: Hex): Hex {
  return bytesToHexFast(keccak256Bytes(hexToBytesFast(data)));
}

/**
 * keccak256 and hex helpers on native code (nativeBackend.ts): about 30× faster than the
 * pure-JS hash on adapter-sized inputs (bench:cache), which is what keeps a runner's cold
 * adapter load, hash check included, within a few milliseconds, and a small fraction of the
 * pure-JS cost on a paid call's 100-byte messages.
 */
import type { Hex } from "viem";
import { cryptoBackend } from "./nativeBackend";

export const keccak256Bytes: (bytes: Uint8Array) => Uint8Array = cryptoBackend.keccak256;

export function keccak256Hex(bytes: Uint8Array): Hex {
  return bytesToHexFast(keccak256Bytes(bytes));
}

/** 0x-hex of bytes through Buffer's native encoder (viem's toHex loops in JS). */
export function bytesToHexFast(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}

const HEX = /^0x(?:[0-9a-fA-F]{2})*$/;

/** Bytes of 0x-hex through Buffer's native decoder; throws on anything but whole bytes of hex. */
export function hexToBytesFast(hex: string): Uint8Array {
  if (!HEX.test(hex)) throw new TypeError(`not 0x-prefixed hex of whole bytes: ${hex.slice(0, 20)}`);
  return Buffer.from(hex.slice(2), "hex");
}

import type { Hex } from "viem";
import { keccak256Hex } from "../crypto/keccak";

/** Content hash used everywhere in OpenLoRA: keccak256 of the exact bytes, 0x-prefixed hex. */
export function contentHash(bytes: Uint8Array): Hex {
  return keccak256Hex(bytes);
}

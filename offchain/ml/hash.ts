import { type Hex, keccak256 } from "viem";

/** Content hash used everywhere in OpenLoRA: keccak256 of the exact bytes, 0x-prefixed hex. */
export function contentHash(bytes: Uint8Array): Hex {
  return keccak256(bytes);
}

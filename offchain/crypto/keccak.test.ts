import { keccak256 } from "viem";
import { describe, expect, it } from "vitest";
import { keccak256Bytes, keccak256Hex } from "./keccak";

describe("native keccak256", () => {
  it("equals viem's keccak256 on empty, small, block-boundary and large inputs", () => {
    for (const size of [0, 1, 32, 135, 136, 137, 1000, 61_000]) {
      const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff);
      expect(keccak256Hex(bytes)).toBe(keccak256(bytes));
    }
  });

  it("hashes a view of a larger buffer by its own bytes only", () => {
    const whole = Uint8Array.from({ length: 100 }, (_, i) => i);
    const view = whole.subarray(10, 42);
    expect(keccak256Hex(view)).toBe(keccak256(Uint8Array.from(view)));
    expect(keccak256Bytes(view)).toHaveLength(32);
  });
});

import { describe, expect, it } from "vitest";
import { USE_LITE_MODULE_NAMES } from "../../ml/base/useLite/modules";
import { createLoraConfig } from "../../ml/peft/config";
import { sideInputs } from "../../ml/peft/loraMath";
import { randomAdapter } from "../../ml/peft/testing/randomAdapter";
import { UseLiteArena } from "./useLiteArena";

const SLOTS = 3;
const RANK = 16;

/** The slot's block of an arena input, as sideInputs lays it out, zero-padded to RANK. */
function expectedBlock(name: string, shape: [number, number], data: Float32Array, r: number): Float32Array {
  if (name.endsWith(".lora_b")) {
    const block = new Float32Array(RANK * shape[1]);
    block.set(data);
    return block;
  }
  const block = new Float32Array(shape[0] * RANK);
  for (let i = 0; i < shape[0]; i++) block.set(data.subarray(i * r, (i + 1) * r), i * RANK);
  return block;
}

describe("UseLiteArena", () => {
  it("writes a slot as sideInputs lays it out, clearing what a larger adapter left there", () => {
    const arena = new UseLiteArena(SLOTS, RANK);
    const large = randomAdapter(createLoraConfig({ r: RANK, targetModules: USE_LITE_MODULE_NAMES }), 1, 0.5);
    // Rank 4, alpha 32 (scaling 8), the default targets: the residual projection and pooler untargeted.
    const small = randomAdapter(createLoraConfig({ r: 4, alpha: 32 }), 2, 0.5, ["x", "y"]);
    arena.write(1, large);
    arena.write(1, small);
    const expected = sideInputs(small, USE_LITE_MODULE_NAMES);
    expect(expected.size).toBe(2 * USE_LITE_MODULE_NAMES.length);
    for (const [name, { shape, data }] of expected) {
      const all = arena.feeds[name]?.data as Float32Array;
      const size = all.length / SLOTS;
      expect(Array.from(all.subarray(size, 2 * size))).toEqual(
        Array.from(expectedBlock(name, shape, data, 4)),
      );
      expect(all.subarray(0, size).every((v) => v === 0)).toBe(true);
      expect(all.subarray(2 * size).every((v) => v === 0)).toBe(true);
    }
    // The scaling reached B: a targeted module's block is not all zeros.
    const qkv = arena.feeds["encoder.layer.0.attention.qkv.lora_b"]?.data as Float32Array;
    expect(qkv.some((v) => v !== 0)).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import {
  USE_LITE_MODULE_NAMES,
  USE_LITE_MODULES,
  type UseLiteModuleName,
} from "../../ml/base/useLite/modules";
import { createLoraConfig } from "../../ml/peft/config";
import { sideInputs } from "../../ml/peft/loraMath";
import { randomAdapter } from "../../ml/peft/testing/randomAdapter";
import { UseLiteArena } from "./useLiteArena";
import { loraIndexInputs } from "./useLiteGatherGraph";

const SLOTS = 3;
const RANK = 16;

/** Distinct biases per module, so a bias row in the wrong place shows. */
const BIASES = new Map<UseLiteModuleName, Float32Array>(
  USE_LITE_MODULE_NAMES.map((module, m) => [
    module,
    Float32Array.from({ length: USE_LITE_MODULES[module].outputs }, (_, o) => m + o / 1000),
  ]),
);

/** sideInputs' [in, r] A as the arena's rows: [RANK, in], zero after r. */
function aRows(data: Float32Array, inputs: number, r: number): Float32Array {
  const rows = new Float32Array(RANK * inputs);
  for (let i = 0; i < inputs; i++)
    for (let k = 0; k < r; k++) rows[k * inputs + i] = data[i * r + k] as number;
  return rows;
}

const table = (arena: UseLiteArena, name: string) => arena.feeds[name]?.data as Float32Array;
const ints = (tensor: { data: unknown } | undefined) => Array.from(tensor?.data as BigInt64Array, Number);

describe("UseLiteArena", () => {
  it("writes a slot as sideInputs lays it out, clearing what a larger adapter left there", () => {
    const arena = new UseLiteArena(SLOTS, RANK, BIASES);
    const large = randomAdapter(createLoraConfig({ r: RANK, targetModules: USE_LITE_MODULE_NAMES }), 1, 0.5);
    // Rank 4, alpha 32 (scaling 8), the default targets: the residual projection and pooler untargeted.
    const small = randomAdapter(createLoraConfig({ r: 4, alpha: 32 }), 2, 0.5, ["x", "y"]);
    arena.write(1, large);
    arena.write(1, small);
    const expected = sideInputs(small, USE_LITE_MODULE_NAMES);
    for (const module of USE_LITE_MODULE_NAMES) {
      const { inputs, outputs } = USE_LITE_MODULES[module];
      const a = table(arena, `${module}.lora_a`);
      const b = table(arena, `${module}.lora_b`);
      expect(a.length).toBe(SLOTS * RANK * inputs);
      expect(b.length).toBe((SLOTS * RANK + 1) * outputs);
      const slotA = a.subarray(RANK * inputs, 2 * RANK * inputs);
      const slotB = b.subarray(RANK * outputs, 2 * RANK * outputs);
      const sideA = expected.get(`${module}.lora_a`)?.data as Float32Array;
      const sideB = expected.get(`${module}.lora_b`)?.data as Float32Array;
      expect(Array.from(slotA)).toEqual(Array.from(aRows(sideA, inputs, 4)));
      const paddedB = new Float32Array(RANK * outputs);
      paddedB.set(sideB);
      expect(Array.from(slotB)).toEqual(Array.from(paddedB));
      // The other slots stay empty, and the last row of B is the module's bias.
      expect(a.subarray(0, RANK * inputs).every((v) => v === 0)).toBe(true);
      expect(a.subarray(2 * RANK * inputs).every((v) => v === 0)).toBe(true);
      expect(b.subarray(0, RANK * outputs).every((v) => v === 0)).toBe(true);
      expect(b.subarray(2 * RANK * outputs, SLOTS * RANK * outputs).every((v) => v === 0)).toBe(true);
      expect(Array.from(b.subarray(SLOTS * RANK * outputs))).toEqual(Array.from(BIASES.get(module) ?? []));
    }
    // The scaling reached B: a targeted module's block is not all zeros.
    const qkv = table(arena, "encoder.layer.0.attention.qkv.lora_b");
    expect(qkv.subarray(RANK * 768, 2 * RANK * 768).some((v) => v !== 0)).toBe(true);
  });

  it("indexes a batch at the highest rank its slots have on each module, then the bias row", () => {
    const arena = new UseLiteArena(SLOTS, RANK, BIASES);
    arena.write(0, randomAdapter(createLoraConfig({ r: 2, targetModules: ["pooler.dense"] }), 3));
    arena.write(
      2,
      randomAdapter(
        createLoraConfig({ r: 3, targetModules: ["pooler.dense", "encoder.layer.1.ffn.out"] }),
        4,
      ),
    );
    const feeds = arena.indexFeeds([2, 0, 2]);
    const bias = SLOTS * RANK;
    const pooler = loraIndexInputs("pooler.dense");
    expect(feeds[pooler.a]?.dims).toEqual([3, 3]);
    expect(ints(feeds[pooler.a])).toEqual([32, 33, 34, 0, 1, 2, 32, 33, 34]);
    expect(feeds[pooler.b]?.dims).toEqual([3, 4]);
    expect(ints(feeds[pooler.b])).toEqual([32, 33, 34, bias, 0, 1, 2, bias, 32, 33, 34, bias]);
    // A module only slot 2 targets: rows of slot 0 (zeros at rank 0) still index at rank 3.
    expect(ints(feeds[loraIndexInputs("encoder.layer.1.ffn.out").a])).toEqual([
      32, 33, 34, 0, 1, 2, 32, 33, 34,
    ]);
    // A module no row targets runs at rank 0: only the bias row.
    const qkv = loraIndexInputs("encoder.layer.0.attention.qkv");
    expect(feeds[qkv.a]?.dims).toEqual([3, 0]);
    expect(ints(feeds[qkv.b])).toEqual([bias, bias, bias]);
    // Overwriting a slot with an adapter that targets less lowers its ranks.
    arena.write(2, randomAdapter(createLoraConfig({ r: 5, targetModules: ["encoder.layer.0.residual"] }), 5));
    const after = arena.indexFeeds([2]);
    expect(after[pooler.a]?.dims).toEqual([1, 0]);
    expect(ints(after[loraIndexInputs("encoder.layer.0.residual").a])).toEqual([32, 33, 34, 35, 36]);
  });

  it("refuses biases that do not fit the modules", () => {
    const wrong = new Map(BIASES);
    wrong.set("pooler.dense", new Float32Array(3));
    expect(() => new UseLiteArena(SLOTS, RANK, wrong)).toThrow(/no bias of 512 values for pooler.dense/);
  });
});

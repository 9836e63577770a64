import { describe, expect, it } from "vitest";
import { type ArenaFactors, loadLoraKernel, resolveLoraKernel } from "./loraKernel";

const kernel = loadLoraKernel();

/** The arguments of one adaptRows call. */
interface KernelCall {
  pre: Float32Array;
  features: Float32Array;
  slots: Int32Array;
  arena: ArenaFactors;
  dims: { d: number; k: number; rank: number; classes: number };
  out: Float32Array;
}

/** An arena of 3 slots at d=4, k=8, rank 2, 2 classes, and a batch of 2 rows, all valid. */
function validCall(): KernelCall {
  const [d, k, rank, classes, slots, rows] = [4, 8, 2, 2, 3, 2];
  const arena: ArenaFactors = {
    aT: new Float32Array(slots * rank * d).fill(0.1),
    scaledBT: new Float32Array(slots * k * rank).fill(0.2),
    headWeightT: new Float32Array(slots * classes * k).map((_, i) => (i % 5) / 10),
    headBias: new Float32Array(slots * classes),
    slotRanks: new Uint16Array(slots).fill(rank),
    slotClasses: new Uint16Array(slots).fill(classes),
  };
  return {
    pre: new Float32Array(rows * k).fill(0.5),
    features: new Float32Array(rows * d).fill(1),
    slots: Int32Array.from([2, 0]),
    arena,
    dims: { d, k, rank, classes },
    out: new Float32Array(rows * classes),
  };
}

describe.runIf(kernel)("the native LoRA kernel's argument checks", () => {
  const run = (call: KernelCall) =>
    kernel?.adaptRows(call.pre, call.features, call.slots, call.arena, call.dims, call.out);

  it("answers a valid call with each row's probabilities, and an empty batch with nothing", () => {
    const call = validCall();
    const out = run(call) as Float32Array;
    expect(out).toBe(call.out);
    // down = Aᵀ·x = 0.1·4 in each of 2 ranks; h = relu(0.5 + 2·0.2·0.4) = 0.66 in every unit.
    const h = 0.5 + 2 * 0.2 * (0.1 * 4);
    const logits = (slot: number) =>
      [0, 1].map((c) =>
        Array.from({ length: 8 }, (_, j) => ((((slot * 2 + c) * 8 + j) % 5) / 10) * h).reduce(
          (a, b) => a + b,
        ),
      );
    for (const [row, slot] of [2, 0].entries()) {
      const [z0, z1] = logits(slot) as [number, number];
      const p1 = 1 / (1 + Math.exp(z0 - z1));
      expect(out[row * 2 + 1]).toBeCloseTo(p1, 6);
      expect((out[row * 2] as number) + (out[row * 2 + 1] as number)).toBeCloseTo(1, 6);
    }
    const empty = { ...validCall(), pre: new Float32Array(0), features: new Float32Array(0) };
    expect(run({ ...empty, slots: new Int32Array(0), out: new Float32Array(0) })).toHaveLength(0);
  });

  it("refuses a slot outside the arena, naming the row, or one that claims more than the arena holds", () => {
    expect(() => run({ ...validCall(), slots: Int32Array.from([0, 3]) })).toThrow(
      /slot 3 of row 1 is outside the arena's 3 slots/,
    );
    expect(() => run({ ...validCall(), slots: Int32Array.from([-1, 0]) })).toThrow(RangeError);
    const call = validCall();
    call.arena.slotRanks[2] = 3;
    expect(() => run(call)).toThrow(/slot 2 claims rank 3 and 2 classes, over the arena's 2 and 2/);
  });

  it("reads only a slot's own rank and classes: its padding never counts", () => {
    const call = validCall();
    call.arena.slotRanks[2] = 1; // slot 2's second rank row is ignored, even though not zero
    call.arena.slotClasses[0] = 1; // slot 0 is a one-class head: probability 1, then 0 for padding
    const out = run(call) as Float32Array;
    const h = 0.5 + 0.2 * (0.1 * 4);
    const z = (c: number) =>
      Array.from({ length: 8 }, (_, j) => ((((2 * 2 + c) * 8 + j) % 5) / 10) * h).reduce((a, b) => a + b);
    expect(out[1]).toBeCloseTo(1 / (1 + Math.exp(z(0) - z(1))), 6);
    expect(Array.from(out.subarray(2))).toEqual([1, 0]);
  });

  it("refuses arrays of the wrong length, naming the argument", () => {
    const call = validCall();
    expect(() => run({ ...call, pre: new Float32Array(15) })).toThrow(/pre must hold 16 values, got 15/);
    expect(() => run({ ...call, features: new Float32Array(9) })).toThrow(/features must hold 8 values/);
    expect(() => run({ ...call, out: new Float32Array(3) })).toThrow(/out must hold 4 values/);
    const shortA = { ...call.arena, aT: new Float32Array(23) };
    expect(() => run({ ...call, arena: shortA })).toThrow(/aT must hold 24 values, got 23/);
    const oddBias = { ...call.arena, headBias: new Float32Array(7) };
    expect(() => run({ ...call, arena: oddBias })).toThrow(RangeError);
    const fewRanks = { ...call.arena, slotRanks: new Uint16Array(2) };
    expect(() => run({ ...call, arena: fewRanks })).toThrow(/slotRanks must hold 3 values, got 2/);
  });

  it("refuses arrays of the wrong type and sizes that are not positive whole numbers", () => {
    const call = validCall();
    expect(() => run({ ...call, slots: new Float32Array(2) as unknown as Int32Array })).toThrow(
      /slots must be an Int32Array/,
    );
    expect(() => run({ ...call, pre: new Float64Array(16) as unknown as Float32Array })).toThrow(
      /pre must be a Float32Array/,
    );
    expect(() => run({ ...call, dims: { ...call.dims, rank: 0 } })).toThrow(
      /rank must be a positive whole number/,
    );
    expect(() => run({ ...call, dims: { ...call.dims, d: Number.NaN } })).toThrow(TypeError);
  });
});

describe("choosing how rows get their adapters", () => {
  it("takes the gather graph when asked, and the kernel for auto exactly where it is built", () => {
    expect(resolveLoraKernel("graph")).toBeNull();
    expect(resolveLoraKernel("auto") !== null).toBe(kernel !== null);
    if (kernel) expect(resolveLoraKernel("native")?.isa).toBe(kernel.isa);
    else expect(() => resolveLoraKernel("native")).toThrow(/npm run build:native/);
  });
});

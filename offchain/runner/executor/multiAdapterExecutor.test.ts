import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoraAdapter } from "../../ml/adapter/adapter";
import { type BaseModel, landeBaseModel, wideBenchmarkBase } from "../../ml/base/baseModel";
import { Rng } from "../../ml/random";
import { randomAdapter } from "../testing/randomAdapter";
import { AdapterTooLargeError } from "./adapterArena";
import { buildGatherGraph, GATHER_INPUTS, GATHER_OUTPUT } from "./gatherGraph";
import { type LoraKernelChoice, loadLoraKernel } from "./loraKernel";
import { createMergedSession } from "./mergedSession";
import { MultiAdapterExecutor, type Row } from "./multiAdapterExecutor";

const nativeBuilt = loadLoraKernel() !== null;
if (!nativeBuilt) console.warn("offchain/native/lora is not built: the native kernel's tests are skipped");
/** Every way of serving this machine has: the gather graph always, the native kernel where built. */
const kernels: LoraKernelChoice[] = nativeBuilt ? ["native", "graph"] : ["graph"];

/** Factors large enough that the LoRA delta changes the answers the test compares. */
const adapterOf = (rng: Rng, base: BaseModel, rank: number, classes: number | null): LoraAdapter =>
  randomAdapter(rng, base, {
    rank,
    labels: classes === null ? null : Array.from({ length: classes }, (_, c) => `label${c}`),
    factorStd: 0.3,
    headStd: 0.3,
    biasStd: 0.1,
  });

/** The same adapter merged into the base weights, run in its own onnxruntime session. */
async function mergedSessionOutput(
  base: BaseModel,
  adapter: LoraAdapter,
  x: Float32Array,
): Promise<Float32Array> {
  const session = await createMergedSession(base, adapter);
  const out = await session.run({ features: new ort.Tensor("float32", x, [1, x.length]) });
  await session.release();
  return out.probabilities?.data as Float32Array;
}

/** The merged-weights reference in float64: softmax(relu(x·(W1 + scale·A·B) + b1)·H + c). */
function mergedReference(base: BaseModel, adapter: LoraAdapter, x: Float32Array): number[] {
  const { inputs: d, outputs: k, weights, biases } = base.hidden;
  const r = adapter.rank;
  const merged = Float64Array.from(weights);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < k; j++) {
      let ab = 0;
      for (let t = 0; t < r; t++) ab += (adapter.a[i * r + t] as number) * (adapter.b[t * k + j] as number);
      merged[i * k + j] = (merged[i * k + j] as number) + adapter.scale * ab;
    }
  const h = Array.from({ length: k }, (_, j) => {
    let z = biases[j] as number;
    for (let i = 0; i < d; i++) z += (x[i] as number) * (merged[i * k + j] as number);
    return Math.max(0, z);
  });
  const head = adapter.head ?? { weight: base.output.weights, bias: base.output.biases };
  const classes = head.bias.length;
  const logits = Array.from({ length: classes }, (_, c) => {
    let z = head.bias[c] as number;
    for (let j = 0; j < k; j++) z += (h[j] as number) * (head.weight[j * classes + c] as number);
    return z;
  });
  const max = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

describe.each(kernels)("MultiAdapterExecutor (%s) on the lande base", (kernel) => {
  const base = landeBaseModel();
  const rng = new Rng(7);
  let executor: MultiAdapterExecutor;
  // Ranks and class counts differ per slot; slot 3 has no head and uses the base's 50 languages.
  const adapters = [adapterOf(rng, base, 4, 2), adapterOf(rng, base, 8, 3), adapterOf(rng, base, 1, 5)];
  adapters.push(adapterOf(rng, base, 2, null));

  beforeAll(async () => {
    executor = await MultiAdapterExecutor.create(base, { slots: 8, maxRank: 8, maxClasses: 50 }, { kernel });
    expect(executor.method.startsWith(kernel)).toBe(true);
    for (const [slot, adapter] of adapters.entries()) executor.arena.write(slot, adapter);
  });
  afterAll(() => executor?.release());

  it("serves a batch mixing every adapter and equals the merged-weights reference to 1e-5", async () => {
    const texts = [
      "FREE money!!! click here to claim your prize now",
      "Meeting moved to 3pm, see the agenda attached",
      "BTC just broke resistance, bulls are back",
      "ETH gas fees are killing me, selling everything",
      "Der schnelle braune Fuchs springt über den faulen Hund",
      "Le conseil municipal se réunira jeudi prochain",
      "El mercado de criptomonedas está muy volátil hoy",
      "ok",
    ];
    const features = texts.map((t) => base.featurizer?.featurize(t) as Float32Array);
    const rows = features.map((f, i) => ({ features: f, slot: i % adapters.length }));
    const results = await executor.run(rows);
    for (const [i, row] of rows.entries()) {
      const adapter = adapters[row.slot] as LoraAdapter;
      const merged = await mergedSessionOutput(base, adapter, row.features);
      if (adapter.head) {
        expect(maxAbsDiff(results[i] as Float32Array, merged)).toBeLessThan(1e-5);
        expect(
          maxAbsDiff(results[i] as Float32Array, mergedReference(base, adapter, row.features)),
        ).toBeLessThan(1e-5);
      } else {
        // Through lande's own 50-way output layer, whose logits are large, float32 rounding
        // alone (summing x·W1 and the LoRA delta apart or merged) moves probabilities by ~2e-5:
        // the same tolerance as lande's ONNX conversion itself.
        expect(maxAbsDiff(results[i] as Float32Array, merged)).toBeLessThan(1e-4);
      }
    }
    expect(results.map((r) => r.length)).toEqual([2, 3, 5, 50, 2, 3, 5, 50]);
  });

  it("serves a new adapter written into a slot without a new session", async () => {
    const replacement = adapterOf(rng, base, 6, 2);
    executor.arena.write(1, replacement);
    const x = base.featurizer?.featurize("hello world, this is a test") as Float32Array;
    const [p] = await executor.run([{ features: x, slot: 1 }]);
    expect(maxAbsDiff(p as Float32Array, mergedReference(base, replacement, x))).toBeLessThan(1e-5);
  });

  it("keeps overlapping runs apart (each batch its own input buffers)", async () => {
    const texts = ["win a free cruise today", "lunch at noon?", "hodl the line", "bonjour à tous"];
    const batches = texts.map((t, i) => [
      { features: base.featurizer?.featurize(t) as Float32Array, slot: i % adapters.length },
    ]);
    const one = async (batch: (typeof batches)[number]) => (await executor.run(batch))[0] as Float32Array;
    const sequential: Float32Array[] = [];
    for (const batch of batches) sequential.push(await one(batch));
    const overlapping = await Promise.all(batches.map(one));
    expect(overlapping.map((p) => Array.from(p))).toEqual(sequential.map((p) => Array.from(p)));
  });

  it("refuses an adapter above the arena's rank or class limit", () => {
    expect(() => executor.arena.write(5, adapterOf(rng, base, 9, 2))).toThrow(AdapterTooLargeError);
  });
});

describe.each(kernels)("MultiAdapterExecutor (%s) on wide bases", (kernel) => {
  // Widths and ranks that take every path of the native kernel: whole vectors and tails of the
  // input, hidden units in blocks of 8 and one at a time, ranks by the block and one at a time.
  it.each([
    { d: 256, k: 256, maxRank: 8, ranks: [8, 8, 3, 1] },
    { d: 250, k: 100, maxRank: 16, ranks: [16, 9, 8, 2] },
    { d: 37, k: 13, maxRank: 6, ranks: [6, 5, 1, 2] },
  ])("matches the merged reference at $d×$k, arena rank $maxRank, with random features", async (shape) => {
    const { d, k, maxRank, ranks } = shape;
    const base = wideBenchmarkBase({ inputDim: d, hiddenDim: k, outputDim: 10, seed: 3 });
    const rng = new Rng(11);
    const executor = await MultiAdapterExecutor.create(
      base,
      { slots: 5, maxRank, maxClasses: 4 },
      { kernel },
    );
    const adapters = ranks.map((rank, i) => adapterOf(rng, base, rank, i === 3 ? 3 : 4));
    for (const [slot, adapter] of adapters.entries()) executor.arena.write(slot + 1, adapter);
    const rows = Array.from({ length: 12 }, (_, i) => ({
      features: Float32Array.from({ length: d }, () => rng.normal()),
      slot: 1 + ((i * 3) % 4),
    }));
    const results = await executor.run(rows);
    rows.forEach((row, i) => {
      const expected = mergedReference(base, adapters[row.slot - 1] as LoraAdapter, row.features);
      expect(maxAbsDiff(results[i] as Float32Array, expected)).toBeLessThan(1e-5);
    });
    await executor.release();
  });
});

describe.runIf(nativeBuilt)("the native kernel against the gather graph", () => {
  it("gives the same probabilities for a batch of 32 rows over 32 adapters", async () => {
    const base = wideBenchmarkBase({ inputDim: 128, hiddenDim: 64, outputDim: 10, seed: 9 });
    const rng = new Rng(17);
    const shape = { slots: 32, maxRank: 8, maxClasses: 4 };
    const [native, graph] = await Promise.all(
      (["native", "graph"] as const).map((kernel) => MultiAdapterExecutor.create(base, shape, { kernel })),
    );
    for (let slot = 0; slot < 32; slot++) {
      const adapter = adapterOf(rng, base, 1 + (slot % 8), 2 + (slot % 3));
      native?.arena.write(slot, adapter);
      graph?.arena.write(slot, adapter);
    }
    const rows: Row[] = Array.from({ length: 32 }, (_, i) => ({
      features: Float32Array.from({ length: 128 }, () => rng.normal()),
      slot: (i * 7) % 32,
    }));
    const [a, b] = await Promise.all([native?.run(rows), graph?.run(rows)]);
    expect(a?.map((p) => p.length)).toEqual(b?.map((p) => p.length));
    a?.forEach((p, i) => {
      expect(maxAbsDiff(p, b?.[i] as Float32Array)).toBeLessThan(1e-6);
    });
    await Promise.all([native?.release(), graph?.release()]);
  });
});

describe("the gather graph without Gathers (bench:serving:lande's bound)", () => {
  it("gives the runner's answers when factors come one slot per row", async () => {
    const base = wideBenchmarkBase({ inputDim: 64, hiddenDim: 32, outputDim: 10, seed: 5 });
    const rng = new Rng(13);
    const executor = await MultiAdapterExecutor.create(
      base,
      { slots: 3, maxRank: 4, maxClasses: 3 },
      { kernel: "graph" },
    );
    for (const slot of [0, 1, 2]) executor.arena.write(slot, adapterOf(rng, base, 4, 3));
    const rows = [0, 1, 2].map((slot) => ({
      features: Float32Array.from({ length: 64 }, () => rng.normal()),
      slot,
    }));
    const expected = await executor.run(rows);
    const session = await ort.InferenceSession.create(buildGatherGraph(base, "per-row"));
    const features = new Float32Array(3 * 64);
    for (const [i, row] of rows.entries()) features.set(row.features, i * 64);
    const out = await session.run({
      ...executor.arena.feeds,
      [GATHER_INPUTS.features]: new ort.Tensor("float32", features, [3, 64]),
    });
    expect(Array.from(out[GATHER_OUTPUT]?.data as Float32Array)).toEqual(
      expected.flatMap((p) => Array.from(p)),
    );
    await Promise.all([session.release(), executor.release()]);
  });
});

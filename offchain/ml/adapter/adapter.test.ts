import { describe, expect, it } from "vitest";
import { landeBaseModel, wideBenchmarkBase } from "../base/baseModel";
import { buildAdapterGraph } from "../onnx/baseGraph";
import { createSession, runAdapter, runBase } from "../onnx/session";
import { Rng } from "../random";
import { classifyTexts, LORA_TARGET, type LoraAdapter, referenceForward } from "./adapter";

const TEXTS = [
  "Limited offer: click here to claim your free prize now",
  "Can we move tomorrow's meeting to 3pm? I have a conflict.",
  "Le chat dort sur le canapé depuis ce matin.",
  "BTC just broke its all-time high, what a week",
  "",
];

function randomAdapter(
  d: number,
  k: number,
  rank: number,
  classes: number | undefined,
  seed: number,
): LoraAdapter {
  const rng = new Rng(seed);
  const fill = (n: number, std: number) => Float32Array.from({ length: n }, () => rng.normal() * std);
  const adapter: LoraAdapter = {
    target: LORA_TARGET,
    rank,
    scale: 1.5,
    a: fill(d * rank, 1),
    b: fill(rank * k, 0.5),
  };
  if (classes) {
    const labels = Array.from({ length: classes }, (_, i) => `c${i}`);
    adapter.head = { weight: fill(k * classes, 0.3), bias: fill(classes, 0.1), labels };
  }
  return adapter;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((max, v, i) => Math.max(max, Math.abs(v - (b[i] as number))), 0);
}

describe("reference forward pass", () => {
  const base = landeBaseModel();
  const features = base.featurizer?.featurizeAll(TEXTS) ?? new Float32Array();

  it("matches the ONNX adapter graph (factors and head fed as inputs) through onnxruntime", async () => {
    const session = await createSession(buildAdapterGraph(base, true));
    for (const [rank, classes] of [
      [4, 2],
      [8, 3],
      [16, 5],
    ] as const) {
      const adapter = randomAdapter(620, 120, rank, classes, rank);
      const expected = referenceForward(base, adapter, features);
      const head = adapter.head as NonNullable<LoraAdapter["head"]>;
      const actual = await runAdapter(session, features, { d: 620, k: 120 }, { ...adapter, head });
      expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-5);
    }
    await session.release();
  });

  it("without a head, modifies the base's own output; with B = 0 it is exactly the base", async () => {
    const adapter = randomAdapter(620, 120, 4, undefined, 1);
    const session = await createSession(buildAdapterGraph(base, false));
    const actual = await runAdapter(session, features, { d: 620, k: 120 }, adapter);
    // lande's output layer is sharp (probabilities near 0 or 1): float32 rounding shows at 1e-5.
    expect(maxAbsDiff(actual, referenceForward(base, adapter, features))).toBeLessThan(1e-4);
    const baseSession = await createSession(base.onnx);
    const baseOutput = await runBase(baseSession, features, 620);
    expect(maxAbsDiff(actual, baseOutput)).toBeGreaterThan(1e-3);
    const identity = { ...adapter, b: new Float32Array(adapter.b.length) };
    expect(maxAbsDiff(referenceForward(base, identity, features), baseOutput)).toBeLessThan(1e-4);
    await session.release();
    await baseSession.release();
  });

  it("holds on the wide benchmark base too", async () => {
    const wide = wideBenchmarkBase({ inputDim: 96, hiddenDim: 64, outputDim: 10, seed: 3 });
    const rng = new Rng(5);
    const x = Float32Array.from({ length: 3 * 96 }, () => rng.normal());
    const adapter = randomAdapter(96, 64, 8, 4, 2);
    const session = await createSession(buildAdapterGraph(wide, true));
    const head = adapter.head as NonNullable<LoraAdapter["head"]>;
    const actual = await runAdapter(session, x, { d: 96, k: 64 }, { ...adapter, head });
    expect(maxAbsDiff(actual, referenceForward(wide, adapter, x))).toBeLessThan(1e-5);
    await session.release();
  });

  it("classifies texts end to end with labels and probabilities", () => {
    const adapter = randomAdapter(620, 120, 4, 3, 11);
    const predictions = classifyTexts(base, adapter, TEXTS);
    expect(predictions).toHaveLength(TEXTS.length);
    for (const prediction of predictions) {
      const values = Object.values(prediction.probabilities);
      expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(prediction.probabilities[prediction.label]).toBe(Math.max(...values));
    }
  });
});

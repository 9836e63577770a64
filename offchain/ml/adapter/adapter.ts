/**
 * A LoRA adapter on a base model's hidden layer, and its pure-TypeScript reference forward
 * pass. The adapter math, exactly:
 *
 *   z = x·W1 + b1 + scale · (x·A)·B        A: d×r, B: r×k   (W1: d×k, b1: k, frozen)
 *   h = relu(z)
 *   p = softmax(h·H + c)                   task head H: k×C, c: C (the adapter's labels)
 *     | softmax(h·W2 + b2)                 without a head: the base's own output layer
 *
 * All matrices are row-major Float32Array. The ONNX graph of onnx/baseGraph.ts computes the
 * same function; tests hold the two together.
 */
import type { BaseModel } from "../base/baseModel";

/** The only LoRA target of our one-hidden-layer bases: the layer `hidden` (x·W1 + b1). */
export const LORA_TARGET = "hidden";

export interface TaskHead {
  /** k×C, row-major. */
  weight: Float32Array;
  /** C. */
  bias: Float32Array;
  labels: string[];
}

export interface LoraAdapter {
  target: typeof LORA_TARGET;
  rank: number;
  scale: number;
  /** d×r, row-major. */
  a: Float32Array;
  /** r×k, row-major. */
  b: Float32Array;
  head?: TaskHead;
}

/** The labels an adapter predicts: its head's, or the base's. */
export function adapterLabels(base: BaseModel, adapter: LoraAdapter): readonly string[] {
  return adapter.head ? adapter.head.labels : base.labels;
}

export function softmaxInPlace(values: Float64Array): void {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) if (v > max) max = v;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const e = Math.exp((values[i] as number) - max);
    values[i] = e;
    sum += e;
  }
  for (let i = 0; i < values.length; i++) values[i] = (values[i] as number) / sum;
}

/** Post-ReLU hidden activations of one feature row under the adapter (float64). */
export function adaptedHidden(base: BaseModel, adapter: LoraAdapter, x: Float32Array): Float64Array {
  const { inputs: d, outputs: k, weights, biases } = base.hidden;
  const r = adapter.rank;
  const down = new Float64Array(r);
  const z = Float64Array.from(biases);
  for (let i = 0; i < d; i++) {
    const xi = x[i] as number;
    if (xi === 0) continue;
    for (let j = 0; j < k; j++) z[j] = (z[j] as number) + xi * (weights[i * k + j] as number);
    for (let t = 0; t < r; t++) down[t] = (down[t] as number) + xi * (adapter.a[i * r + t] as number);
  }
  for (let t = 0; t < r; t++) {
    const coefficient = adapter.scale * (down[t] as number);
    for (let j = 0; j < k; j++) z[j] = (z[j] as number) + coefficient * (adapter.b[t * k + j] as number);
  }
  for (let j = 0; j < k; j++) if ((z[j] as number) < 0) z[j] = 0;
  return z;
}

/** Reference forward pass: features [rows × d] → probabilities [rows × C]. */
export function referenceForward(
  base: BaseModel,
  adapter: LoraAdapter,
  features: Float32Array,
): Float32Array {
  const d = base.hidden.inputs;
  const k = base.hidden.outputs;
  const layer = adapter.head ?? { weight: base.output.weights, bias: base.output.biases };
  const classes = layer.bias.length;
  const rows = features.length / d;
  const out = new Float32Array(rows * classes);
  for (let row = 0; row < rows; row++) {
    const h = adaptedHidden(base, adapter, features.subarray(row * d, (row + 1) * d));
    const logits = Float64Array.from(layer.bias);
    for (let j = 0; j < k; j++) {
      const hj = h[j] as number;
      if (hj === 0) continue;
      for (let c = 0; c < classes; c++)
        logits[c] = (logits[c] as number) + hj * (layer.weight[j * classes + c] as number);
    }
    softmaxInPlace(logits);
    out.set(logits, row * classes);
  }
  return out;
}

export interface Prediction {
  label: string;
  probabilities: Record<string, number>;
}

/** Classifies texts with a text base (lande) and an adapter: the reference path end to end. */
export function classifyTexts(base: BaseModel, adapter: LoraAdapter, texts: readonly string[]): Prediction[] {
  if (!base.featurizer) throw new Error(`base ${base.id} has no featurizer`);
  const labels = adapterLabels(base, adapter);
  const probabilities = referenceForward(base, adapter, base.featurizer.featurizeAll(texts));
  return texts.map((_, row) => {
    const p = probabilities.subarray(row * labels.length, (row + 1) * labels.length);
    let best = 0;
    for (let c = 1; c < labels.length; c++) if ((p[c] as number) > (p[best] as number)) best = c;
    return {
      label: labels[best] as string,
      probabilities: Object.fromEntries(labels.map((label, c) => [label, p[c] as number])),
    };
  });
}

/**
 * Trainable parameters of a LoRA adapter with a task head, and the hand-written forward and
 * backward passes (float64). The math is the adapter's (see adapter/adapter.ts):
 *   u = x·A,  z = z0 + scale·u·B  (z0 = x·W1 + b1, frozen),  h = relu(z),
 *   p = softmax(h·H + c),  loss = −log p[y]  (mean over the batch).
 * All parameters live in one flat vector (A, B, H, c) so that Adam and federated averaging
 * work on plain arrays.
 */
import { LORA_TARGET, type LoraAdapter } from "../adapter/adapter";
import type { Rng } from "../random";
import type { EncodedExamples } from "./examples";

export interface LoraShape {
  /** Input width of the base (d). */
  inputDim: number;
  /** Hidden width of the base (k). */
  hiddenDim: number;
  rank: number;
  classes: number;
}

export interface LoraParameters extends LoraShape {
  scale: number;
  flat: Float64Array;
  a: Float64Array;
  b: Float64Array;
  headWeight: Float64Array;
  headBias: Float64Array;
}

export function parameterCount(s: LoraShape): number {
  return s.inputDim * s.rank + s.rank * s.hiddenDim + s.hiddenDim * s.classes + s.classes;
}

/** Views of a flat vector laid out as A, B, H, c. */
export function viewParameters(shape: LoraShape, scale: number, flat: Float64Array): LoraParameters {
  const { inputDim: d, hiddenDim: k, rank: r, classes: C } = shape;
  if (flat.length !== parameterCount(shape))
    throw new Error("parameter vector does not match the LoRA shape");
  const offsets = [0, d * r, d * r + r * k, d * r + r * k + k * C, d * r + r * k + k * C + C];
  const view = (i: number) => flat.subarray(offsets[i] as number, offsets[i + 1] as number);
  return { ...shape, scale, flat, a: view(0), b: view(1), headWeight: view(2), headBias: view(3) };
}

/**
 * Initial parameters: A ~ N(0, aStd²), B = 0 (so the adapter starts as the identity on the
 * base, as in LoRA), H ~ N(0, 1/k), c = 0.
 */
export function initParameters(shape: LoraShape, scale: number, rng: Rng, aStd = 1): LoraParameters {
  const p = viewParameters(shape, scale, new Float64Array(parameterCount(shape)));
  for (let i = 0; i < p.a.length; i++) p.a[i] = rng.normal() * aStd;
  const headStd = 1 / Math.sqrt(shape.hiddenDim);
  for (let i = 0; i < p.headWeight.length; i++) p.headWeight[i] = rng.normal() * headStd;
  return p;
}

export function cloneParameters(p: LoraParameters): LoraParameters {
  return viewParameters(p, p.scale, Float64Array.from(p.flat));
}

/** Scratch buffers for one example's forward/backward. */
interface Scratch {
  u: Float64Array;
  z: Float64Array;
  logits: Float64Array;
  dh: Float64Array;
  du: Float64Array;
}

function scratch(p: LoraParameters): Scratch {
  return {
    u: new Float64Array(p.rank),
    z: new Float64Array(p.hiddenDim),
    logits: new Float64Array(p.classes),
    dh: new Float64Array(p.hiddenDim),
    du: new Float64Array(p.rank),
  };
}

/** Forward pass of example n: fills s.u, s.z (pre-activation) and s.logits (probabilities). */
function forwardOne(p: LoraParameters, data: EncodedExamples, n: number, s: Scratch): void {
  const { rank: r, hiddenDim: k, classes: C, a, b, headWeight, headBias, scale } = p;
  s.u.fill(0);
  for (let q = data.rowStart[n] as number; q < (data.rowStart[n + 1] as number); q++) {
    const x = data.values[q] as number;
    const row = (data.columns[q] as number) * r;
    for (let t = 0; t < r; t++) s.u[t] = (s.u[t] as number) + x * (a[row + t] as number);
  }
  s.z.set(data.basePre.subarray(n * k, (n + 1) * k));
  for (let t = 0; t < r; t++) {
    const coefficient = scale * (s.u[t] as number);
    if (coefficient === 0) continue;
    for (let j = 0; j < k; j++) s.z[j] = (s.z[j] as number) + coefficient * (b[t * k + j] as number);
  }
  s.logits.set(headBias);
  for (let j = 0; j < k; j++) {
    const h = s.z[j] as number;
    if (h <= 0) continue;
    for (let c = 0; c < C; c++) s.logits[c] = (s.logits[c] as number) + h * (headWeight[j * C + c] as number);
  }
  let max = Number.NEGATIVE_INFINITY;
  for (const v of s.logits) if (v > max) max = v;
  let sum = 0;
  for (let c = 0; c < C; c++) {
    const e = Math.exp((s.logits[c] as number) - max);
    s.logits[c] = e;
    sum += e;
  }
  for (let c = 0; c < C; c++) s.logits[c] = (s.logits[c] as number) / sum;
}

/** Backward pass of example n (after forwardOne), adding weight × ∂loss/∂θ into grads. */
function backwardOne(
  p: LoraParameters,
  data: EncodedExamples,
  n: number,
  s: Scratch,
  weight: number,
  g: LoraParameters,
): void {
  const { rank: r, hiddenDim: k, classes: C, b, headWeight, scale } = p;
  const target = data.targets[n] as number;
  s.dh.fill(0);
  for (let c = 0; c < C; c++) {
    const gc = weight * ((s.logits[c] as number) - (c === target ? 1 : 0));
    g.headBias[c] = (g.headBias[c] as number) + gc;
    for (let j = 0; j < k; j++) {
      const h = s.z[j] as number;
      if (h <= 0) continue;
      g.headWeight[j * C + c] = (g.headWeight[j * C + c] as number) + h * gc;
      s.dh[j] = (s.dh[j] as number) + (headWeight[j * C + c] as number) * gc;
    }
  }
  // Through the ReLU: dz = dh where z > 0 (s.dh is zero elsewhere already).
  s.du.fill(0);
  for (let t = 0; t < r; t++) {
    const su = scale * (s.u[t] as number);
    let acc = 0;
    for (let j = 0; j < k; j++) {
      const dz = s.dh[j] as number;
      if (dz === 0) continue;
      g.b[t * k + j] = (g.b[t * k + j] as number) + su * dz;
      acc += (b[t * k + j] as number) * dz;
    }
    s.du[t] = scale * acc;
  }
  for (let q = data.rowStart[n] as number; q < (data.rowStart[n + 1] as number); q++) {
    const x = data.values[q] as number;
    const row = (data.columns[q] as number) * r;
    for (let t = 0; t < r; t++) g.a[row + t] = (g.a[row + t] as number) + x * (s.du[t] as number);
  }
}

/**
 * Mean cross-entropy over `indices` and its gradient, written into `grads` (zeroed first).
 * Returns the mean loss and the number of correct predictions.
 */
export function lossAndGradients(
  p: LoraParameters,
  data: EncodedExamples,
  indices: ArrayLike<number>,
  grads: LoraParameters,
): { loss: number; correct: number } {
  grads.flat.fill(0);
  const s = scratch(p);
  const weight = 1 / indices.length;
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < indices.length; i++) {
    const n = indices[i] as number;
    forwardOne(p, data, n, s);
    const target = data.targets[n] as number;
    loss -= Math.log(Math.max(s.logits[target] as number, 1e-300));
    if (argmax(s.logits) === target) correct++;
    backwardOne(p, data, n, s, weight, grads);
  }
  return { loss: loss * weight, correct };
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/** Class probabilities of every example: [count × classes]. */
export function predictProbabilities(p: LoraParameters, data: EncodedExamples): Float64Array {
  const s = scratch(p);
  const out = new Float64Array(data.count * p.classes);
  for (let n = 0; n < data.count; n++) {
    forwardOne(p, data, n, s);
    out.set(s.logits, n * p.classes);
  }
  return out;
}

/** The parameters rounded to float32, as they are stored in an adapter file. */
export function roundToFloat32(p: LoraParameters): LoraParameters {
  return viewParameters(p, p.scale, Float64Array.from(Float32Array.from(p.flat)));
}

export function toAdapter(p: LoraParameters, labels: readonly string[]): LoraAdapter {
  if (labels.length !== p.classes) throw new Error("label count does not match the head");
  return {
    target: LORA_TARGET,
    rank: p.rank,
    scale: p.scale,
    a: Float32Array.from(p.a),
    b: Float32Array.from(p.b),
    head: {
      weight: Float32Array.from(p.headWeight),
      bias: Float32Array.from(p.headBias),
      labels: [...labels],
    },
  };
}

/**
 * The trainable part of a USE-lite adapter, with hand-written forward and backward passes
 * (float64) over cached activations (activations.ts). PEFT's LoRA on a module is
 *   out = x·W + b + s·(x·Aᵀ)·Bᵀ      A [r, in], B [out, r], s = alpha/r (or alpha/√r)
 * Above the cache the model computes, for one row (T tokens):
 *   ffn.in:   h_t = ReLU(z_t + s·(n_t·A₁ᵀ)·B₁ᵀ),  h̄ = mean_t h_t        (z_t, n_t cached)
 *   ffn.out:  pooled = pooled₀ + (h̄ − h̄₀)·W_out + s·(h̄·A₂ᵀ)·B₂ᵀ       (pooling is a mean and
 *             LoRA is linear, so the tokens' sum collapses into h̄)
 *   pooler:   q = q₀ + (pooled − pooled₀)·W_p + s·(pooled·A₃ᵀ)·B₃ᵀ,  e = tanh(q),  x = e/‖e‖
 *   head:     p = softmax(H·x + c),  loss = −log p[y]  (mean over the batch)
 * Deltas are added to the frozen base's cached outputs, so an all-zero B gives the base exactly.
 * All parameters live in one flat vector so that Adam and federated averaging see plain arrays.
 */
import { USE_LITE, USE_LITE_MODULES } from "../base/useLite/modules";
import type { Rng } from "../random";
import { argmax } from "../training/metrics";
import type { Activations, FrozenWeights } from "./activations";
import type { TrainableModule } from "./targets";

const D = USE_LITE.hiddenDim;
const F = USE_LITE.ffnDim;
const L2_EPSILON = USE_LITE.l2Epsilon;

export interface LoraShape {
  targets: readonly TrainableModule[];
  rank: number;
  classes: number;
}

export interface ModuleParameters {
  inputs: number;
  outputs: number;
  /** lora_A [r, in]. */
  a: Float64Array;
  /** lora_B [out, r]. */
  b: Float64Array;
}

export interface UseLiteLoraParameters extends LoraShape {
  scaling: number;
  flat: Float64Array;
  modules: Map<TrainableModule, ModuleParameters>;
  /** [classes, 512]. */
  headWeight: Float64Array;
  headBias: Float64Array;
}

export function parameterCount({ targets, rank, classes }: LoraShape): number {
  const lora = targets.reduce(
    (sum, m) => sum + rank * (USE_LITE_MODULES[m].inputs + USE_LITE_MODULES[m].outputs),
    0,
  );
  return lora + classes * USE_LITE.outputDim + classes;
}

/** Views of a flat vector laid out as (A, B) per target in order, then H, c. */
export function viewParameters(shape: LoraShape, scaling: number, flat: Float64Array): UseLiteLoraParameters {
  if (flat.length !== parameterCount(shape))
    throw new Error("parameter vector does not match the LoRA shape");
  const { rank, classes } = shape;
  let at = 0;
  const take = (length: number) => {
    at += length;
    return flat.subarray(at - length, at);
  };
  const modules = new Map<TrainableModule, ModuleParameters>();
  for (const module of shape.targets) {
    const { inputs, outputs } = USE_LITE_MODULES[module];
    modules.set(module, { inputs, outputs, a: take(rank * inputs), b: take(outputs * rank) });
  }
  const headWeight = take(classes * USE_LITE.outputDim);
  return {
    ...shape,
    targets: [...shape.targets],
    scaling,
    flat,
    modules,
    headWeight,
    headBias: take(classes),
  };
}

/**
 * Initial parameters as PEFT and PyTorch make them: A ~ U(±1/√in) (kaiming-uniform with
 * a = √5), B = 0 (the adapter starts as the base), the head ~ U(±1/√512), c = 0.
 */
export function initParameters(shape: LoraShape, scaling: number, rng: Rng): UseLiteLoraParameters {
  const p = viewParameters(shape, scaling, new Float64Array(parameterCount(shape)));
  const uniform = (values: Float64Array, bound: number) => {
    for (let i = 0; i < values.length; i++) values[i] = (2 * rng.next() - 1) * bound;
  };
  for (const module of p.modules.values()) uniform(module.a, 1 / Math.sqrt(module.inputs));
  uniform(p.headWeight, 1 / Math.sqrt(USE_LITE.outputDim));
  return p;
}

export function cloneParameters(p: UseLiteLoraParameters): UseLiteLoraParameters {
  return viewParameters(p, p.scaling, Float64Array.from(p.flat));
}

/** The parameters rounded to float32, as they are stored in an adapter file. */
export function roundToFloat32(p: UseLiteLoraParameters): UseLiteLoraParameters {
  return viewParameters(p, p.scaling, Float64Array.from(Float32Array.from(p.flat)));
}

/** x·Aᵀ for A [r, in]: the r-vector `down`. */
function down(a: Float64Array, x: ArrayLike<number>, xAt: number, inputs: number, out: Float64Array): void {
  for (let k = 0; k < out.length; k++) {
    let sum = 0;
    const row = k * inputs;
    for (let i = 0; i < inputs; i++) sum += (a[row + i] as number) * (x[xAt + i] as number);
    out[k] = sum;
  }
}

/** y += s·u·Bᵀ for B [out, r]. */
function upAdd(
  b: Float64Array,
  u: Float64Array,
  s: number,
  y: Float64Array | Float32Array,
  outputs: number,
): void {
  const r = u.length;
  for (let o = 0; o < outputs; o++) {
    let sum = 0;
    for (let k = 0; k < r; k++) sum += (b[o * r + k] as number) * (u[k] as number);
    y[o] = (y[o] as number) + s * sum;
  }
}

/** y += x·W for a row-major W [in, out] (the frozen kernels). */
function matVecAdd(w: Float32Array, x: Float64Array, inputs: number, outputs: number, y: Float64Array): void {
  for (let i = 0; i < inputs; i++) {
    const xi = x[i] as number;
    if (xi === 0) continue;
    const row = i * outputs;
    for (let o = 0; o < outputs; o++) y[o] = (y[o] as number) + xi * (w[row + o] as number);
  }
}

/** y = W·g for a row-major W [in, out]: the gradient through a frozen kernel to its input. */
function matVecTransposed(
  w: Float32Array,
  g: Float64Array,
  inputs: number,
  outputs: number,
  y: Float64Array,
): void {
  for (let i = 0; i < inputs; i++) {
    let sum = 0;
    const row = i * outputs;
    for (let o = 0; o < outputs; o++) sum += (w[row + o] as number) * (g[o] as number);
    y[i] = sum;
  }
}

/** Gradients of a LoRA path out += s·(x·Aᵀ)·Bᵀ given dout and the forward's u = x·Aᵀ; writes du. */
function loraBackward(
  m: ModuleParameters,
  g: ModuleParameters,
  x: ArrayLike<number>,
  xAt: number,
  u: Float64Array,
  dOut: ArrayLike<number>,
  s: number,
  du: Float64Array,
): void {
  const r = u.length;
  du.fill(0);
  for (let o = 0; o < m.outputs; o++) {
    const d = dOut[o] as number;
    if (d === 0) continue;
    for (let k = 0; k < r; k++) {
      g.b[o * r + k] = (g.b[o * r + k] as number) + s * d * (u[k] as number);
      du[k] = (du[k] as number) + s * d * (m.b[o * r + k] as number);
    }
  }
  for (let k = 0; k < r; k++) {
    const d = du[k] as number;
    if (d === 0) continue;
    const row = k * m.inputs;
    for (let i = 0; i < m.inputs; i++) g.a[row + i] = (g.a[row + i] as number) + d * (x[xAt + i] as number);
  }
}

/** Buffers for one row's forward and backward. */
class Scratch {
  readonly hidden = new Float64Array(F);
  readonly pooledDelta = new Float64Array(D);
  readonly pooled = new Float64Array(D);
  readonly q = new Float64Array(D);
  readonly e = new Float64Array(D);
  readonly x = new Float64Array(D);
  readonly probabilities: Float64Array;
  readonly uFfnOut: Float64Array;
  readonly uPooler: Float64Array;
  /** ffn.in's u_t = n_t·A₁ᵀ for every token of the row. */
  readonly uTokens: Float64Array;
  /** One token's u_t. */
  readonly uToken: Float64Array;
  readonly du: Float64Array;
  readonly dq = new Float64Array(D);
  readonly dPooled = new Float64Array(D);
  readonly dHidden = new Float64Array(F);
  readonly dz = new Float64Array(F);
  readonly z = new Float64Array(F);
  norm = 1;
  /** B₂ᵀ·W_p [r × 512]: ffn.out's LoRA seen through the frozen pooler (once per batch). */
  readonly throughPooler: Float64Array;
  /** Σ_rows dq ⊗ u₂ [512 × r]: W_p·dq's share of ffn.out's B gradient, applied once per batch. */
  readonly poolerGradient: Float64Array;
  readonly dPoolerLora = new Float64Array(D);

  constructor(p: UseLiteLoraParameters) {
    this.throughPooler = new Float64Array(p.rank * D);
    this.poolerGradient = new Float64Array(D * p.rank);
    this.probabilities = new Float64Array(p.classes);
    this.uFfnOut = new Float64Array(p.rank);
    this.uPooler = new Float64Array(p.rank);
    this.du = new Float64Array(p.rank);
    this.uToken = new Float64Array(p.rank);
    this.uTokens = new Float64Array(USE_LITE.maxTokens * p.rank);
  }
}

export class UseLiteLoraModel {
  constructor(
    readonly data: Activations,
    readonly frozen: FrozenWeights,
  ) {}

  /** Row n's forward pass; fills the scratch and returns its class probabilities. */
  forward(p: UseLiteLoraParameters, n: number, s: Scratch): Float64Array {
    const { data, frozen } = this;
    const ffnIn = p.modules.get("encoder.layer.1.ffn.in");
    const ffnOut = p.modules.get("encoder.layer.1.ffn.out");
    const pooler = p.modules.get("pooler.dense");
    const hidden0 = data.hiddenMean.subarray(n * F, (n + 1) * F);
    s.pooledDelta.fill(0);
    if (ffnIn) {
      this.hiddenWithLora(p, ffnIn, n, s);
      // (h̄ − h̄₀)·W_out: the frozen ffn.out sees the changed hidden mean.
      for (let j = 0; j < F; j++) s.dHidden[j] = (s.hidden[j] as number) - (hidden0[j] as number);
      matVecAdd(frozen.ffnOut, s.dHidden, F, D, s.pooledDelta);
    } else {
      s.hidden.set(hidden0);
    }
    if (ffnOut) {
      down(ffnOut.a, s.hidden, 0, F, s.uFfnOut);
      upAdd(ffnOut.b, s.uFfnOut, p.scaling, s.pooledDelta, D);
    }
    for (let j = 0; j < D; j++)
      s.pooled[j] = (data.pooled[n * D + j] as number) + (s.pooledDelta[j] as number);
    s.q.set(data.poolerOut.subarray(n * D, (n + 1) * D));
    if (ffnIn) {
      matVecAdd(frozen.pooler, s.pooledDelta, D, D, s.q);
    } else if (ffnOut) {
      // The pooled change is rank r: s·u₂·B₂ᵀ·W_p = s·u₂·(B₂ᵀ·W_p), r × 512 a row instead of 512².
      for (let k = 0; k < p.rank; k++) {
        const c = p.scaling * (s.uFfnOut[k] as number);
        for (let j = 0; j < D; j++) s.q[j] = (s.q[j] as number) + c * (s.throughPooler[k * D + j] as number);
      }
    }
    if (pooler) {
      down(pooler.a, s.pooled, 0, D, s.uPooler);
      upAdd(pooler.b, s.uPooler, p.scaling, s.q, D);
    }
    let squares = 0;
    for (let j = 0; j < D; j++) {
      const e = Math.tanh(s.q[j] as number);
      s.e[j] = e;
      squares += e * e;
    }
    s.norm = Math.sqrt(Math.max(squares, L2_EPSILON));
    for (let j = 0; j < D; j++) s.x[j] = (s.e[j] as number) / s.norm;
    return this.head(p, s);
  }

  /** h̄ = mean_t ReLU(z_t + s·u_t·B₁ᵀ), keeping u_t for the backward pass. */
  private hiddenWithLora(p: UseLiteLoraParameters, m: ModuleParameters, n: number, s: Scratch): void {
    const tokens = this.data.tokens;
    if (!tokens) throw new Error("ffn.in training needs the token activations");
    const from = tokens.start[n] as number;
    const count = (tokens.start[n + 1] as number) - from;
    const r = p.rank;
    const u = s.uToken;
    s.hidden.fill(0);
    for (let t = 0; t < count; t++) {
      down(m.a, tokens.normed, (from + t) * D, D, u);
      s.uTokens.set(u, t * r);
      for (let j = 0; j < F; j++) s.z[j] = tokens.preActivation[(from + t) * F + j] as number;
      upAdd(m.b, u, p.scaling, s.z, F);
      for (let j = 0; j < F; j++)
        if ((s.z[j] as number) > 0) s.hidden[j] = (s.hidden[j] as number) + (s.z[j] as number);
    }
    for (let j = 0; j < F; j++) s.hidden[j] = (s.hidden[j] as number) / Math.max(count, 1);
  }

  private head(p: UseLiteLoraParameters, s: Scratch): Float64Array {
    const out = s.probabilities;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < p.classes; c++) {
      let sum = p.headBias[c] as number;
      for (let j = 0; j < D; j++) sum += (p.headWeight[c * D + j] as number) * (s.x[j] as number);
      out[c] = sum;
      if (sum > max) max = sum;
    }
    let total = 0;
    for (let c = 0; c < p.classes; c++) {
      out[c] = Math.exp((out[c] as number) - max);
      total += out[c] as number;
    }
    for (let c = 0; c < p.classes; c++) out[c] = (out[c] as number) / total;
    return out;
  }

  /** Row n's backward pass (after forward), adding weight × ∂loss/∂θ into g. */
  backward(
    p: UseLiteLoraParameters,
    n: number,
    target: number,
    s: Scratch,
    weight: number,
    g: UseLiteLoraParameters,
  ): void {
    // Head: dlogits = p − onehot; dx = Hᵀ·dlogits.
    const dx = s.dPooled; // reused as dx until the pooler's input gradient is needed
    dx.fill(0);
    for (let c = 0; c < p.classes; c++) {
      const d = weight * ((s.probabilities[c] as number) - (c === target ? 1 : 0));
      g.headBias[c] = (g.headBias[c] as number) + d;
      for (let j = 0; j < D; j++) {
        g.headWeight[c * D + j] = (g.headWeight[c * D + j] as number) + d * (s.x[j] as number);
        dx[j] = (dx[j] as number) + d * (p.headWeight[c * D + j] as number);
      }
    }
    // x = e/‖e‖ (‖e‖ clamped below by √ε, where it is a constant), then e = tanh(q).
    let xDotDx = 0;
    for (let j = 0; j < D; j++) xDotDx += (s.x[j] as number) * (dx[j] as number);
    const clamped = s.norm * s.norm <= L2_EPSILON;
    for (let j = 0; j < D; j++) {
      const de = ((dx[j] as number) - (clamped ? 0 : (s.x[j] as number) * xDotDx)) / s.norm;
      s.dq[j] = de * (1 - (s.e[j] as number) ** 2);
    }
    const ffnIn = p.modules.get("encoder.layer.1.ffn.in");
    const ffnOut = p.modules.get("encoder.layer.1.ffn.out");
    const pooler = p.modules.get("pooler.dense");
    if (pooler)
      loraBackward(
        pooler,
        g.modules.get("pooler.dense") as ModuleParameters,
        s.pooled,
        0,
        s.uPooler,
        s.dq,
        p.scaling,
        s.du,
      );
    if (!ffnIn && !ffnOut) return;
    if (!ffnIn && ffnOut) {
      const gOut = g.modules.get("encoder.layer.1.ffn.out") as ModuleParameters;
      this.ffnOutBackwardLowRank(p, ffnOut, gOut, pooler, s);
      return;
    }
    // dpooled = W_p·dq + Σ_k du_k·A₃[k] (the LoRA path's input gradient).
    matVecTransposed(this.frozen.pooler, s.dq, D, D, s.dPooled);
    if (pooler) addInputGradient(pooler, s.du, s.dPooled);
    if (ffnOut)
      loraBackward(
        ffnOut,
        g.modules.get("encoder.layer.1.ffn.out") as ModuleParameters,
        s.hidden,
        0,
        s.uFfnOut,
        s.dPooled,
        p.scaling,
        s.du,
      );
    if (!ffnIn) return;
    matVecTransposed(this.frozen.ffnOut, s.dPooled, F, D, s.dHidden);
    if (ffnOut) addInputGradient(ffnOut, s.du, s.dHidden);
    this.ffnInBackward(p, ffnIn, g.modules.get("encoder.layer.1.ffn.in") as ModuleParameters, n, s);
  }

  /**
   * ffn.out's factors when nothing below trains: dpooled = W_p·dq + A₃ᵀ·du₃. The A₃ᵀ·du₃ part is
   * applied here; W_p·dq reaches B₂ only through Σ_rows dq ⊗ u₂, which endBatch multiplies by
   * W_p once, and reaches A₂ through du₂ = s·(B₂ᵀW_p)·dq.
   */
  private ffnOutBackwardLowRank(
    p: UseLiteLoraParameters,
    m: ModuleParameters,
    g: ModuleParameters,
    pooler: ModuleParameters | undefined,
    s: Scratch,
  ): void {
    const r = p.rank;
    const scale = p.scaling;
    s.dPoolerLora.fill(0);
    if (pooler) addInputGradient(pooler, s.du, s.dPoolerLora);
    for (let k = 0; k < r; k++) {
      const u = s.uFfnOut[k] as number;
      let viaPooler = 0;
      for (let j = 0; j < D; j++) {
        viaPooler += (s.throughPooler[k * D + j] as number) * (s.dq[j] as number);
        s.poolerGradient[j * r + k] = (s.poolerGradient[j * r + k] as number) + (s.dq[j] as number) * u;
      }
      let viaLora = 0;
      for (let o = 0; o < D; o++) {
        const d = s.dPoolerLora[o] as number;
        viaLora += d * (m.b[o * r + k] as number);
        g.b[o * r + k] = (g.b[o * r + k] as number) + scale * d * u;
      }
      const du = scale * (viaPooler + viaLora);
      const row = k * F;
      for (let i = 0; i < F; i++) g.a[row + i] = (g.a[row + i] as number) + du * (s.hidden[i] as number);
    }
  }

  /** Before a batch: B₂ᵀ·W_p for the low-rank path (see ffnOutBackwardLowRank). */
  private startBatch(p: UseLiteLoraParameters, s: Scratch): void {
    const ffnOut = p.modules.get("encoder.layer.1.ffn.out");
    if (!ffnOut || p.modules.has("encoder.layer.1.ffn.in")) return;
    const r = p.rank;
    const w = this.frozen.pooler;
    s.throughPooler.fill(0);
    s.poolerGradient.fill(0);
    for (let o = 0; o < D; o++) {
      for (let k = 0; k < r; k++) {
        const b = ffnOut.b[o * r + k] as number;
        if (b === 0) continue;
        const row = k * D;
        for (let j = 0; j < D; j++)
          s.throughPooler[row + j] = (s.throughPooler[row + j] as number) + b * (w[o * D + j] as number);
      }
    }
  }

  /** After a batch's backward passes: B₂'s gradient through W_p, s·W_p·Σ(dq ⊗ u₂). */
  private endBatch(p: UseLiteLoraParameters, s: Scratch, g: UseLiteLoraParameters): void {
    const gOut = g.modules.get("encoder.layer.1.ffn.out");
    if (!gOut || p.modules.has("encoder.layer.1.ffn.in")) return;
    const r = p.rank;
    const w = this.frozen.pooler;
    for (let o = 0; o < D; o++) {
      for (let k = 0; k < r; k++) {
        let sum = 0;
        for (let j = 0; j < D; j++) sum += (w[o * D + j] as number) * (s.poolerGradient[j * r + k] as number);
        gOut.b[o * r + k] = (gOut.b[o * r + k] as number) + p.scaling * sum;
      }
    }
  }

  /** Through the mean and each token's ReLU into ffn.in's LoRA factors. */
  private ffnInBackward(
    p: UseLiteLoraParameters,
    m: ModuleParameters,
    g: ModuleParameters,
    n: number,
    s: Scratch,
  ): void {
    const tokens = this.data.tokens as NonNullable<Activations["tokens"]>;
    const from = tokens.start[n] as number;
    const count = (tokens.start[n + 1] as number) - from;
    const r = p.rank;
    const u = s.uToken;
    for (let t = 0; t < count; t++) {
      for (let k = 0; k < r; k++) u[k] = s.uTokens[t * r + k] as number;
      for (let j = 0; j < F; j++) s.z[j] = tokens.preActivation[(from + t) * F + j] as number;
      upAdd(m.b, u, p.scaling, s.z, F);
      for (let j = 0; j < F; j++) s.dz[j] = (s.z[j] as number) > 0 ? (s.dHidden[j] as number) / count : 0;
      loraBackward(m, g, tokens.normed, (from + t) * D, u, s.dz, p.scaling, s.du);
    }
  }

  /** Mean cross-entropy over `indices` and its gradient, written into `grads` (zeroed first). */
  lossAndGradients(
    p: UseLiteLoraParameters,
    targets: Int32Array,
    indices: ArrayLike<number>,
    grads: UseLiteLoraParameters,
  ): { loss: number; correct: number } {
    grads.flat.fill(0);
    const s = new Scratch(p);
    this.startBatch(p, s);
    const weight = 1 / indices.length;
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < indices.length; i++) {
      const n = indices[i] as number;
      const probabilities = this.forward(p, n, s);
      const target = targets[n] as number;
      loss -= Math.log(Math.max(probabilities[target] as number, 1e-300));
      if (argmax(probabilities) === target) correct++;
      this.backward(p, n, target, s, weight, grads);
    }
    this.endBatch(p, s, grads);
    return { loss: loss * weight, correct };
  }

  /** Class probabilities of every row: [count × classes]. */
  predict(p: UseLiteLoraParameters): Float64Array {
    const s = new Scratch(p);
    this.startBatch(p, s);
    const out = new Float64Array(this.data.count * p.classes);
    for (let n = 0; n < this.data.count; n++) out.set(this.forward(p, n, s), n * p.classes);
    return out;
  }
}

/** dx += Σ_k du_k·A[k]: the LoRA path's contribution to its input's gradient. */
function addInputGradient(m: ModuleParameters, du: Float64Array, dx: Float64Array): void {
  for (let k = 0; k < du.length; k++) {
    const d = du[k] as number;
    if (d === 0) continue;
    const row = k * m.inputs;
    for (let i = 0; i < m.inputs; i++) dx[i] = (dx[i] as number) + d * (m.a[row + i] as number);
  }
}

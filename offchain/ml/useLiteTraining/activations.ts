/**
 * The frozen base's activations that training reads, computed once per row with onnxruntime
 * (the base never changes while an adapter trains, so every epoch and every co-training
 * coalition reuses them). What is kept depends on the lowest trained module (targets.ts).
 */
import * as ort from "onnxruntime-node";
import { buildUseLiteOnnx } from "../base/useLite/graph";
import { USE_LITE, USE_LITE_MODULES, type UseLiteModuleName } from "../base/useLite/modules";
import { floatTensor, loadUseLiteSource } from "../base/useLite/source";
import { denseBatch, type UseLiteBase } from "../base/useLite/useLiteBase";
import { TrainingConfigError } from "../errors";
import type { TrainableModule } from "./targets";

const D = USE_LITE.hiddenDim;
const F = USE_LITE.ffnDim;
/** Rows per onnxruntime run: rows are sorted by length first, so little padding is computed. */
const RUN_ROWS = 32;
/** Token activations kept for ffn.in training, at most (4 bytes × (512 + 1536) each). */
const MAX_CACHED_TOKENS = 200_000;

const OUTPUTS = {
  pooled: "pooled",
  poolerOut: "pooler.dense",
  ffnIn: "encoder.layer.1.ffn.in",
  ffnNormed: "encoder.layer.1.ffn.norm",
} as const;

/** Per-token activations of layer 1's feed-forward block, for training ffn.in. */
export interface TokenActivations {
  /** Row n's tokens are [start[n], start[n+1]). */
  start: Int32Array;
  /** [tokens × 512] LayerNorm(y): ffn.in's input. */
  normed: Float32Array;
  /** [tokens × 1536] ffn.in's output before ReLU. */
  preActivation: Float32Array;
}

export interface Activations {
  count: number;
  /** [count × 512] the mean-pooled output of layer 1: pooler.dense's input. */
  pooled: Float64Array;
  /** [count × 512] pooler.dense's output before tanh. */
  poolerOut: Float64Array;
  /** [count × 1536] ReLU(ffn.in) of layer 1 averaged over the row's tokens: ffn.out's input, pooled. */
  hiddenMean: Float64Array;
  tokens?: TokenActivations;
}

/** The frozen weights the backward pass multiplies by. */
export interface FrozenWeights {
  /** ffn.out of layer 1, [1536, 512] ([in, out] as in the graph). */
  ffnOut: Float32Array;
  /** pooler.dense, [512, 512]. */
  pooler: Float32Array;
}

function kernel(module: UseLiteModuleName): Float32Array {
  const { inputs, outputs, source } = USE_LITE_MODULES[module];
  return floatTensor(loadUseLiteSource(), source.kernel, [inputs, outputs]);
}

let frozen: FrozenWeights | undefined;
export function frozenWeights(): FrozenWeights {
  frozen ??= { ffnOut: kernel("encoder.layer.1.ffn.out"), pooler: kernel("pooler.dense") };
  return frozen;
}

let session: Promise<ort.InferenceSession> | undefined;
/** The base with its intermediate values as outputs (built once per process). */
function activationSession(): Promise<ort.InferenceSession> {
  session ??= ort.InferenceSession.create(
    buildUseLiteOnnx(loadUseLiteSource(), {
      outputs: {
        [OUTPUTS.pooled]: ["batch", D],
        [OUTPUTS.poolerOut]: ["batch", D],
        [OUTPUTS.ffnIn]: ["batch", "tokens", F],
        [OUTPUTS.ffnNormed]: ["batch", "tokens", D],
      },
    }),
    { graphOptimizationLevel: "all" },
  );
  return session;
}

/** Token ids of each text, cut to `maxTokens` (the base itself stops at 128). */
export function tokenize(base: UseLiteBase, texts: readonly string[], maxTokens: number): number[][] {
  return texts.map((text) => base.tokenizer.encode(text).slice(0, maxTokens));
}

/** Runs the frozen base over the rows and keeps what training `targets` needs. */
export async function computeActivations(
  rows: readonly (readonly number[])[],
  targets: readonly TrainableModule[],
): Promise<Activations> {
  const count = rows.length;
  const keepTokens = targets.includes("encoder.layer.1.ffn.in");
  const tokenCount = rows.reduce((sum, row) => sum + row.length, 0);
  if (keepTokens && tokenCount > MAX_CACHED_TOKENS) {
    throw new TrainingConfigError(
      `training ffn.in keeps every token's activations: ${tokenCount} tokens is over ${MAX_CACHED_TOKENS}; lower --max-tokens or train the layers above it`,
      { tokens: tokenCount, max: MAX_CACHED_TOKENS },
    );
  }
  const out: Activations = {
    count,
    pooled: new Float64Array(count * D),
    poolerOut: new Float64Array(count * D),
    hiddenMean: new Float64Array(count * F),
  };
  if (keepTokens) {
    const start = new Int32Array(count + 1);
    rows.forEach((row, n) => {
      start[n + 1] = (start[n] as number) + row.length;
    });
    out.tokens = {
      start,
      normed: new Float32Array(tokenCount * D),
      preActivation: new Float32Array(tokenCount * F),
    };
  }
  const order = rows
    .map((_, n) => n)
    .sort((a, b) => (rows[a] as number[]).length - (rows[b] as number[]).length || a - b);
  const run = await activationSession();
  for (let first = 0; first < count; first += RUN_ROWS) {
    const chunk = order.slice(first, first + RUN_ROWS);
    await storeChunk(run, rows, chunk, out);
  }
  return out;
}

async function storeChunk(
  run: ort.InferenceSession,
  rows: readonly (readonly number[])[],
  chunk: readonly number[],
  out: Activations,
): Promise<void> {
  const batch = denseBatch(chunk.map((n) => rows[n] as number[]));
  const result = await run.run(
    {
      input_ids: new ort.Tensor("int64", batch.ids, [batch.rows, batch.tokens]),
      attention_mask: new ort.Tensor("int64", batch.mask, [batch.rows, batch.tokens]),
    },
    Object.values(OUTPUTS),
  );
  const value = (name: string) => result[name]?.data as Float32Array;
  const pooled = value(OUTPUTS.pooled);
  const poolerOut = value(OUTPUTS.poolerOut);
  const ffnIn = value(OUTPUTS.ffnIn);
  const normed = value(OUTPUTS.ffnNormed);
  chunk.forEach((n, r) => {
    out.pooled.set(pooled.subarray(r * D, (r + 1) * D), n * D);
    out.poolerOut.set(poolerOut.subarray(r * D, (r + 1) * D), n * D);
    const length = (rows[n] as number[]).length;
    const rowAt = r * batch.tokens;
    const mean = out.hiddenMean.subarray(n * F, (n + 1) * F);
    for (let t = 0; t < length; t++) {
      const z = ffnIn.subarray((rowAt + t) * F, (rowAt + t + 1) * F);
      for (let j = 0; j < F; j++) if ((z[j] as number) > 0) mean[j] = (mean[j] as number) + (z[j] as number);
    }
    for (let j = 0; j < F; j++) mean[j] = (mean[j] as number) / Math.max(length, 1);
    if (out.tokens) {
      const at = out.tokens.start[n] as number;
      out.tokens.preActivation.set(ffnIn.subarray(rowAt * F, (rowAt + length) * F), at * F);
      out.tokens.normed.set(normed.subarray(rowAt * D, (rowAt + length) * D), at * D);
    }
  });
}

/** The rows `indices` of some activations, in that order (co-training's coalitions). */
export function selectActivations(source: Activations, indices: readonly number[]): Activations {
  const pick = (data: Float64Array, width: number) => {
    const picked = new Float64Array(indices.length * width);
    indices.forEach((n, i) => {
      picked.set(data.subarray(n * width, (n + 1) * width), i * width);
    });
    return picked;
  };
  const out: Activations = {
    count: indices.length,
    pooled: pick(source.pooled, D),
    poolerOut: pick(source.poolerOut, D),
    hiddenMean: pick(source.hiddenMean, F),
  };
  if (source.tokens) {
    const { start, normed, preActivation } = source.tokens;
    const lengths = indices.map((n) => (start[n + 1] as number) - (start[n] as number));
    const total = lengths.reduce((a, b) => a + b, 0);
    const tokens: TokenActivations = {
      start: new Int32Array(indices.length + 1),
      normed: new Float32Array(total * D),
      preActivation: new Float32Array(total * F),
    };
    indices.forEach((n, i) => {
      const from = start[n] as number;
      const to = start[n + 1] as number;
      const at = tokens.start[i] as number;
      tokens.start[i + 1] = at + (to - from);
      tokens.normed.set(normed.subarray(from * D, to * D), at * D);
      tokens.preActivation.set(preActivation.subarray(from * F, to * F), at * F);
    });
    out.tokens = tokens;
  }
  return out;
}

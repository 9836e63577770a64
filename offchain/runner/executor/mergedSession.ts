/**
 * The baseline the gather executor is measured against: one onnxruntime session per adapter,
 * with the adapter merged into the base weights (W1 + scale·A·B) and its head as the output
 * layer. Exact, but each adapter costs a session (memory, an OS thread) and a batch can only
 * hold rows of one adapter.
 */
import * as ort from "onnxruntime-node";
import type { LoraAdapter } from "../../ml/adapter/adapter";
import type { BaseModel } from "../../ml/base/baseModel";
import { buildBaseGraph } from "../../ml/onnx/baseGraph";

/** W1 + scale·A·B, row-major d×k, accumulated in float64 and stored as float32. */
export function mergedHiddenWeights(base: BaseModel, adapter: LoraAdapter): Float32Array {
  const { inputs: d, outputs: k, weights } = base.hidden;
  const r = adapter.rank;
  const merged = new Float32Array(d * k);
  const row = new Float64Array(k);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < k; j++) row[j] = weights[i * k + j] as number;
    for (let t = 0; t < r; t++) {
      const coefficient = adapter.scale * (adapter.a[i * r + t] as number);
      for (let j = 0; j < k; j++)
        row[j] = (row[j] as number) + coefficient * (adapter.b[t * k + j] as number);
    }
    merged.set(row, i * k);
  }
  return merged;
}

export async function createMergedSession(
  base: BaseModel,
  adapter: LoraAdapter,
  threads = 1,
): Promise<ort.InferenceSession> {
  const { hidden, output } = base;
  const head = adapter.head;
  const graph = buildBaseGraph({
    id: `${base.id}+merged`,
    hidden: { ...hidden, weights: mergedHiddenWeights(base, adapter) },
    output: head
      ? { inputs: hidden.outputs, outputs: head.bias.length, weights: head.weight, biases: head.bias }
      : output,
  });
  return ort.InferenceSession.create(graph, {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    // Each session owns its thread pool; with many sessions, spinning workers would starve
    // each other, so idle workers sleep.
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  });
}

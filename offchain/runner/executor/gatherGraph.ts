/**
 * The multi-adapter serving graph (in the manner of Punica's BGMV): one onnxruntime session
 * for a base model serves a batch whose rows use different LoRA adapters. The adapters live in
 * stacked "arena" tensors fed as inputs; each row names its adapter's slot:
 *
 *   z[b] = x[b]·W1 + b1 + (x[b]·A[s_b])·(scale[s_b]·B[s_b])       s_b = adapter_slot[b]
 *   p[b] = softmax(relu(z[b])·H[s_b] + c[s_b])
 *
 * The arena stores each slot's factors transposed — Aᵀ[N,R,d], (scale·B)ᵀ[N,k,R], Hᵀ[N,C,k] —
 * so every per-row product is a matrix times the row's column vector ([R,d]·[d,1]), the
 * shape onnxruntime's batched MatMul runs fastest, and the scale is folded into B when a slot
 * is written, which saves a Gather and a Mul per batch. Factors are padded to the arena's
 * maximum rank R and class count C: zero rank rows add nothing, and padded classes carry a
 * bias of -1e9 so their probability is exactly 0. Adding an adapter writes into a slot; it
 * never creates a session.
 */
import type { BaseModel } from "../../ml/base/baseModel";
import { GraphBuilder } from "../../ml/onnx/graphBuilder";

export const GATHER_INPUTS = {
  features: "features",
  slot: "adapter_slot",
  aT: "arena_lora_a_t",
  scaledBT: "arena_lora_scaled_b_t",
  headWeightT: "arena_head_weight_t",
  headBias: "arena_head_bias",
} as const;
/** Probabilities as [batch, classes, 1]: the same bytes as [batch, classes]. */
export const GATHER_OUTPUT = "probabilities";

/**
 * `factors: "per-row"` builds the same graph without its Gathers: the factor inputs are already
 * one slot per row ([batch, …]) and there is no slot input. It is not for serving (something
 * would have to gather the factors outside the graph); bench:serving:lande runs it to show what the
 * rest of the graph costs.
 */
export function buildGatherGraph(base: BaseModel, factors: "arena" | "per-row" = "arena"): Uint8Array {
  const { inputs: d, outputs: k } = base.hidden;
  const g = new GraphBuilder(`${base.id}+gather-lora`);
  const x = g.input(GATHER_INPUTS.features, "float32", ["batch", d]);
  const first = factors === "arena" ? "slots" : "batch";
  const slot = factors === "arena" ? g.input(GATHER_INPUTS.slot, "int64", ["batch"]) : undefined;
  g.input(GATHER_INPUTS.aT, "float32", [first, "rank", d]);
  g.input(GATHER_INPUTS.scaledBT, "float32", [first, k, "rank"]);
  g.input(GATHER_INPUTS.headWeightT, "float32", [first, "classes", k]);
  g.input(GATHER_INPUTS.headBias, "float32", [first, "classes", 1]);
  g.floatTensor("hidden.weight", base.hidden.weights, [d, k]);
  g.floatTensor("hidden.bias", base.hidden.biases, [k]);
  g.int64Tensor("axis2", [2]);

  const gather = (input: string, name: string) =>
    slot === undefined ? input : g.node("Gather", [input, slot], name, { axis: 0 });
  // The base layer as one GEMM over the batch (onnxruntime fuses the bias into it), as [b,k,1].
  const pre = g.node(
    "Add",
    [g.node("MatMul", [x, "hidden.weight"], "hidden.matmul"), "hidden.bias"],
    "hidden.pre",
  );
  const preColumns = g.node("Unsqueeze", [pre, "axis2"], "hidden.pre_columns");
  // The LoRA delta per row: [b,R,d]·[b,d,1] → [b,R,1], then [b,k,R]·[b,R,1] → [b,k,1].
  const columns = g.node("Unsqueeze", [x, "axis2"], "lora.columns");
  const down = g.node("MatMul", [gather(GATHER_INPUTS.aT, "lora.a_t"), columns], "lora.down");
  const delta = g.node("MatMul", [gather(GATHER_INPUTS.scaledBT, "lora.scaled_b_t"), down], "lora.delta");
  const hidden = g.node("Relu", [g.node("Add", [preColumns, delta], "hidden.adapted")], "hidden.activation");
  // Each row's task head: [b,C,k]·[b,k,1] → [b,C,1].
  const logits = g.node(
    "Add",
    [
      g.node("MatMul", [gather(GATHER_INPUTS.headWeightT, "head.weight_t"), hidden], "head.matmul"),
      gather(GATHER_INPUTS.headBias, "head.bias"),
    ],
    "logits",
  );
  g.node("Softmax", [logits], GATHER_OUTPUT, { axis: 1 });
  g.output(GATHER_OUTPUT, "float32", ["batch", "classes", 1]);
  return g.toBytes({ docString: `OpenLoRA multi-adapter serving graph for base ${base.id} (${base.hash})` });
}

/**
 * The multi-adapter serving graph (in the manner of Punica's BGMV): one onnxruntime session
 * for a base model serves a batch whose rows use different LoRA adapters. The adapters live in
 * stacked "arena" tensors fed as inputs; each row names its adapter's slot:
 *
 *   z[b] = x[b]·W1 + b1 + scale[s_b] · (x[b]·A[s_b])·B[s_b]       s_b = adapter_slot[b]
 *   p[b] = softmax(relu(z[b])·H[s_b] + c[s_b])
 *
 * A[N,d,R], B[N,R,k], H[N,k,C] and c[N,C] are padded to the arena's maximum rank R and class
 * count C: zero rank columns add nothing, and padded classes carry a bias of -1e9 so their
 * probability is exactly 0. Adding an adapter writes into a slot; it never creates a session.
 */
import type { BaseModel } from "../../ml/base/baseModel";
import { GraphBuilder } from "../../ml/onnx/graphBuilder";

export const GATHER_INPUTS = {
  features: "features",
  slot: "adapter_slot",
  a: "arena_lora_a",
  b: "arena_lora_b",
  scale: "arena_lora_scale",
  headWeight: "arena_head_weight",
  headBias: "arena_head_bias",
} as const;
export const GATHER_OUTPUT = "probabilities";

export function buildGatherGraph(base: BaseModel): Uint8Array {
  const { inputs: d, outputs: k } = base.hidden;
  const g = new GraphBuilder(`${base.id}+gather-lora`);
  const x = g.input(GATHER_INPUTS.features, "float32", ["batch", d]);
  const slot = g.input(GATHER_INPUTS.slot, "int64", ["batch"]);
  g.input(GATHER_INPUTS.a, "float32", ["slots", d, "rank"]);
  g.input(GATHER_INPUTS.b, "float32", ["slots", "rank", k]);
  g.input(GATHER_INPUTS.scale, "float32", ["slots"]);
  g.input(GATHER_INPUTS.headWeight, "float32", ["slots", k, "classes"]);
  g.input(GATHER_INPUTS.headBias, "float32", ["slots", "classes"]);
  g.floatTensor("hidden.weight", base.hidden.weights, [d, k]);
  g.floatTensor("hidden.bias", base.hidden.biases, [k]);
  g.int64Tensor("axis1", [1]);

  const pre = g.node(
    "Add",
    [g.node("MatMul", [x, "hidden.weight"], "hidden.matmul"), "hidden.bias"],
    "hidden.pre",
  );
  const gather = (input: string, name: string) => g.node("Gather", [input, slot], name, { axis: 0 });
  // Per-row batched matmuls: [batch,1,d]·[batch,d,R] → [batch,1,R]·[batch,R,k] → [batch,k].
  const rows = g.node("Unsqueeze", [x, "axis1"], "lora.rows");
  const down = g.node("MatMul", [rows, gather(GATHER_INPUTS.a, "lora.a")], "lora.down");
  const up = g.node("MatMul", [down, gather(GATHER_INPUTS.b, "lora.b")], "lora.up");
  const scale = g.node("Unsqueeze", [gather(GATHER_INPUTS.scale, "lora.scale"), "axis1"], "lora.scale_col");
  const delta = g.node("Mul", [g.node("Squeeze", [up, "axis1"], "lora.up_rows"), scale], "lora.delta");
  const hidden = g.node("Relu", [g.node("Add", [pre, delta], "hidden.adapted")], "hidden.activation");

  const hiddenRows = g.node("Unsqueeze", [hidden, "axis1"], "head.rows");
  const logits3 = g.node(
    "MatMul",
    [hiddenRows, gather(GATHER_INPUTS.headWeight, "head.weight")],
    "head.matmul",
  );
  const logits = g.node(
    "Add",
    [g.node("Squeeze", [logits3, "axis1"], "head.logits_rows"), gather(GATHER_INPUTS.headBias, "head.bias")],
    "logits",
  );
  g.node("Softmax", [logits], GATHER_OUTPUT, { axis: -1 });
  g.output(GATHER_OUTPUT, "float32", ["batch", "classes"]);
  return g.toBytes({ docString: `OpenLoRA multi-adapter serving graph for base ${base.id} (${base.hash})` });
}

/**
 * The onnxruntime half of native serving: the base model's adapted layer for the whole batch,
 * pre = x·W1 + b1 as [batch, k], one GEMM with its bias. The native kernel (loraKernel.ts) adds
 * each row's LoRA delta to it and runs the row's head, so this graph knows nothing of adapters.
 */
import type { BaseModel } from "../../ml/base/baseModel";
import { GraphBuilder } from "../../ml/onnx/graphBuilder";

export const BASE_LAYER_INPUT = "features";
export const BASE_LAYER_OUTPUT = "pre_activation";

export function buildBaseLayerGraph(base: BaseModel): Uint8Array {
  const { inputs: d, outputs: k } = base.hidden;
  const g = new GraphBuilder(`${base.id}+base-layer`);
  const x = g.input(BASE_LAYER_INPUT, "float32", ["batch", d]);
  g.floatTensor("hidden.weight", base.hidden.weights, [d, k]);
  g.floatTensor("hidden.bias", base.hidden.biases, [k]);
  g.node("Add", [g.node("MatMul", [x, "hidden.weight"], "hidden.matmul"), "hidden.bias"], BASE_LAYER_OUTPUT);
  g.output(BASE_LAYER_OUTPUT, "float32", ["batch", k]);
  return g.toBytes({ docString: `OpenLoRA base layer for native serving, base ${base.id} (${base.hash})` });
}

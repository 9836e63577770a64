/**
 * ONNX graphs of a base model, with and without a LoRA adapter. Names are part of the
 * adapter convention: the LoRA target is the layer whose initializers are `hidden.weight`
 * (d×k) and `hidden.bias` (k); the adapter adds `scale · (x·A)·B` to its pre-activation.
 */
import type { DenseLayer } from "../base/landeSource";
import { GraphBuilder, type ModelOptions } from "./graphBuilder";

export interface BaseLayers {
  id: string;
  hidden: DenseLayer;
  output: DenseLayer;
}

export const INPUT_FEATURES = "features";
export const OUTPUT_PROBABILITIES = "probabilities";
/** The adapter graph's inputs (LoRA factors and head fed at run time, not baked in). */
export const ADAPTER_INPUTS = {
  a: "lora_a",
  b: "lora_b",
  scale: "lora_scale",
  headWeight: "head_weight",
  headBias: "head_bias",
} as const;

function addHiddenPreactivation(g: GraphBuilder, base: BaseLayers): string {
  const { hidden } = base;
  g.input(INPUT_FEATURES, "float32", ["batch", hidden.inputs]);
  g.floatTensor("hidden.weight", hidden.weights, [hidden.inputs, hidden.outputs]);
  g.floatTensor("hidden.bias", hidden.biases, [hidden.outputs]);
  const product = g.node("MatMul", [INPUT_FEATURES, "hidden.weight"], "hidden.matmul");
  return g.node("Add", [product, "hidden.bias"], "hidden.preactivation");
}

function addBaseOutputLayer(g: GraphBuilder, base: BaseLayers, activation: string): void {
  const { output } = base;
  g.floatTensor("output.weight", output.weights, [output.inputs, output.outputs]);
  g.floatTensor("output.bias", output.biases, [output.outputs]);
  const logits = g.node(
    "Add",
    [g.node("MatMul", [activation, "output.weight"], "output.matmul"), "output.bias"],
    "logits",
  );
  g.node("Softmax", [logits], OUTPUT_PROBABILITIES, { axis: -1 });
  g.output(OUTPUT_PROBABILITIES, "float32", ["batch", output.outputs]);
}

/** features [batch, d] → probabilities [batch, classes]: softmax(relu(x·W1 + b1)·W2 + b2). */
export function buildBaseGraph(base: BaseLayers, options: ModelOptions = {}): Uint8Array {
  const g = new GraphBuilder(base.id);
  const pre = addHiddenPreactivation(g, base);
  const activation = g.node("Relu", [pre], "hidden.activation");
  addBaseOutputLayer(g, base, activation);
  return g.toBytes(options);
}

/**
 * The base with one LoRA adapter fed as inputs: h = relu(x·W1 + b1 + scale·(x·A)·B), then
 * either a task head (`withHead`: softmax(h·H + c) over the adapter's labels, inputs
 * `head_weight` [k, C] and `head_bias` [C]) or the base's own output layer.
 * Rank r and the class count C are symbolic, so one session serves any adapter of this base.
 */
export function buildAdapterGraph(
  base: BaseLayers,
  withHead: boolean,
  options: ModelOptions = {},
): Uint8Array {
  const g = new GraphBuilder(`${base.id}+lora`);
  const pre = addHiddenPreactivation(g, base);
  const { inputs: d, outputs: k } = base.hidden;
  g.input(ADAPTER_INPUTS.a, "float32", [d, "rank"]);
  g.input(ADAPTER_INPUTS.b, "float32", ["rank", k]);
  g.input(ADAPTER_INPUTS.scale, "float32", [1]);
  const down = g.node("MatMul", [INPUT_FEATURES, ADAPTER_INPUTS.a], "lora.down");
  const up = g.node("MatMul", [down, ADAPTER_INPUTS.b], "lora.up");
  const delta = g.node("Mul", [up, ADAPTER_INPUTS.scale], "lora.delta");
  const activation = g.node("Relu", [g.node("Add", [pre, delta], "hidden.adapted")], "hidden.activation");
  if (!withHead) {
    addBaseOutputLayer(g, base, activation);
    return g.toBytes(options);
  }
  g.input(ADAPTER_INPUTS.headWeight, "float32", [k, "classes"]);
  g.input(ADAPTER_INPUTS.headBias, "float32", ["classes"]);
  const logits = g.node(
    "Add",
    [g.node("MatMul", [activation, ADAPTER_INPUTS.headWeight], "head.matmul"), ADAPTER_INPUTS.headBias],
    "logits",
  );
  g.node("Softmax", [logits], OUTPUT_PROBABILITIES, { axis: -1 });
  g.output(OUTPUT_PROBABILITIES, "float32", ["batch", "classes"]);
  return g.toBytes(options);
}

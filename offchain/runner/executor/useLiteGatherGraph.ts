/**
 * The USE-lite side-input graph rewritten so that each row of a run has its own adapter, as
 * lande's gather graph does (vLLM's BGMV in graph form). The graph built with `loraModules`
 * takes one adapter per run: `<module>.lora_a` [in, rank], `<module>.lora_b` [rank, out]. Here
 * those inputs become the stacked arena, [slots, in, rank] and [slots, rank, out], and a new
 * input `lora_slot` int64 [batch] picks each row's slot:
 *
 *   A_rows = Gather(lora_a, lora_slot)        [batch, in, rank]
 *   down   = MatMul(x, A_rows)                [batch, tokens, in] · [batch, in, rank]
 *   up     = MatMul(down, B_rows)             [batch, tokens, out]
 *
 * The pooler's input is [batch, 512], so its side path runs on [batch, 1, 512] (Unsqueeze, then
 * Squeeze). Everything else in the graph, and the frozen weights, stay as they were: the rewrite
 * touches only the nodes named `<module>.lora.down` / `.lora.up` and the LoRA inputs.
 */
import onnxProto from "onnx-proto";
import type { UseLiteModuleName } from "../../ml/base/useLite/modules";

const { onnx } = onnxProto;

export const LORA_SLOT_INPUT = "lora_slot";
/** An int64 [1] initializer the converter already holds (axes for the pooler's Unsqueeze). */
const AXES_1 = "const.axes.1";

function node(opType: string, input: string[], output: string): onnxProto.onnx.INodeProto {
  return { name: `${opType}:${output}`, opType, input, output: [output] };
}

function findNode(nodes: onnxProto.onnx.INodeProto[], output: string): number {
  const index = nodes.findIndex((n) => n.output?.[0] === output);
  if (index < 0) throw new Error(`the USE-lite graph has no node ${output}`);
  return index;
}

/** Rewrites a graph built with `loraModules: modules` to take per-row adapters from a stacked arena. */
export function buildUseLiteGatherGraph(
  sideInputGraph: Uint8Array,
  modules: readonly UseLiteModuleName[],
): Uint8Array {
  const model = onnx.ModelProto.decode(sideInputGraph);
  const graph = model.graph as onnxProto.onnx.GraphProto;
  if (!graph.initializer.some((t) => t.name === AXES_1))
    throw new Error(`the USE-lite graph has no ${AXES_1}`);
  const nodes = [...graph.node];
  const gathers: onnxProto.onnx.INodeProto[] = [];
  for (const module of modules) {
    for (const factor of ["lora_a", "lora_b"] as const) {
      const name = `${module}.${factor}`;
      const input = graph.input.find((i) => i.name === name);
      const dims = input?.type?.tensorType?.shape?.dim;
      if (dims?.length !== 2) throw new Error(`the USE-lite graph has no 2-D input ${name}`);
      dims.unshift({ dimParam: "slots" });
      gathers.push(node("Gather", [name, LORA_SLOT_INPUT], `${name}.rows`));
    }
    const down = nodes[findNode(nodes, `${module}.lora.down`)] as onnxProto.onnx.INodeProto;
    const up = nodes[findNode(nodes, `${module}.lora.up`)] as onnxProto.onnx.INodeProto;
    down.input = [down.input?.[0] as string, `${module}.lora_a.rows`];
    up.input = [up.input?.[0] as string, `${module}.lora_b.rows`];
    if (module !== "pooler.dense") continue;
    // [batch, 512] → [batch, 1, 512] for the batched MatMuls, and back.
    const x = down.input[0] as string;
    nodes.splice(findNode(nodes, down.output?.[0] as string), 0, node("Unsqueeze", [x, AXES_1], `${x}.rows`));
    down.input[0] = `${x}.rows`;
    up.output = [`${module}.lora.up.rows`];
    nodes.splice(
      findNode(nodes, `${module}.lora.up.rows`) + 1,
      0,
      node("Squeeze", [`${module}.lora.up.rows`, AXES_1], `${module}.lora.up`),
    );
  }
  graph.input.push({
    name: LORA_SLOT_INPUT,
    type: {
      tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: [{ dimParam: "batch" }] } },
    },
  });
  graph.node = [...gathers, ...nodes] as onnxProto.onnx.NodeProto[];
  return onnx.ModelProto.encode(model).finish();
}

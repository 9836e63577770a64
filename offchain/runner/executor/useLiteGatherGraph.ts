/**
 * The USE-lite side-input graph rewritten so that each row of a run has its own adapter (vLLM's
 * BGMV in graph form). The graph built with `loraModules` takes one adapter per run:
 * `<module>.lora_a` [in, rank], `<module>.lora_b` [rank, out]. Here those inputs become the
 * arena's flat factor tables (useLiteArena.ts), and each module gets two index inputs that pick
 * each row's rows of them:
 *
 *   <module>.lora_a        [arena rows, in]       row slot·R + k: the k-th row of an adapter's A
 *   <module>.lora_b        [arena rows + 1, out]  row slot·R + k: the k-th row of B, scaled; the
 *                                                 last row: the module's frozen bias
 *   <module>.lora_a.index  int64 [batch, rank]      slot·R + k for k < rank
 *   <module>.lora_b.index  int64 [batch, rank + 1]  the same, then the bias row
 *
 *   A_rows = Gather(lora_a, a.index)             [batch, rank, in]
 *   down   = MatMul(x, Transpose(A_rows))        [batch, tokens, rank]   (onnxruntime fuses the
 *                                                                         Transpose into the MatMul)
 *   down1  = Pad(down, one column of 1)          [batch, tokens, rank + 1]
 *   up     = MatMul(down1, Gather(lora_b, b.index))  = x·A·B + bias   [batch, tokens, out]
 *   output = MatMul(x, W) + up
 *
 * Folding the bias into the side path's last product leaves one full-size Add per module, as in
 * the base, instead of two (bias, then delta): that Add was a third of what the side paths cost
 * (docs/benchmarks.md). `rank` is the batch's own: the highest rank any of its rows' adapters has
 * on that module, so a module no row targets has rank 0 and costs next to nothing, and its output
 * is x·W + 1·bias, the base's bit for bit. The pooler's input is [batch, 512]; its side path runs
 * on [batch, 1, 512] (Unsqueeze, then Squeeze). Everything else in the graph, and the frozen
 * weights, stay as they were.
 */
import onnxProto from "onnx-proto";
import { buildUseLiteOnnx } from "../../ml/base/useLite/graph";
import { USE_LITE_MODULE_NAMES, type UseLiteModuleName } from "../../ml/base/useLite/modules";
import { loadUseLiteSource } from "../../ml/base/useLite/source";

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;

/** An int64 [1] initializer the converter already holds (axes for the pooler's Unsqueeze). */
const AXES_1 = "const.axes.1";
/** Pads of the down product: one more column at the end of the last axis, filled with 1. */
const PAD_ONE_COLUMN = "lora.pad.one_column";
const ONE = "lora.one";

export const loraIndexInputs = (module: UseLiteModuleName) =>
  ({ a: `${module}.lora_a.index`, b: `${module}.lora_b.index` }) as const;

export interface UseLiteGatherGraph {
  onnx: Uint8Array;
  /** Each module's frozen bias, which the graph no longer holds: the arena's last B row. */
  biases: Map<UseLiteModuleName, Float32Array>;
}

function node(
  opType: string,
  input: string[],
  output: string,
  attribute: onnxProto.onnx.IAttributeProto[] = [],
): NodeProto {
  return { name: `${opType}:${output}`, opType, input, output: [output], attribute };
}

function findNode(nodes: NodeProto[], output: string): number {
  const index = nodes.findIndex((n) => n.output?.[0] === output);
  if (index < 0) throw new Error(`the USE-lite graph has no node ${output}`);
  return index;
}

function floatsOf(tensor: onnxProto.onnx.ITensorProto): Float32Array {
  if (tensor.rawData?.length) return new Float32Array(Uint8Array.from(tensor.rawData).buffer);
  return Float32Array.from(tensor.floatData ?? []);
}

function inputOf(name: string, elemType: number, dims: onnxProto.onnx.TensorShapeProto.IDimension[]) {
  return { name, type: { tensorType: { elemType, shape: { dim: dims } } } };
}

/** The side path of one module, from its input `x` to `<module>.lora.up` = x·A·B + bias. */
function sidePath(module: UseLiteModuleName, x: string): NodeProto[] {
  const index = loraIndexInputs(module);
  const pooler = module === "pooler.dense";
  const rows = pooler ? `${x}.rows` : x;
  const up = `${module}.lora.up`;
  return [
    ...(pooler ? [node("Unsqueeze", [x, AXES_1], rows)] : []),
    node("Gather", [`${module}.lora_a`, index.a], `${module}.lora_a.rows`),
    node("Transpose", [`${module}.lora_a.rows`], `${module}.lora_a.columns`, [
      { name: "perm", type: onnx.AttributeProto.AttributeType.INTS, ints: [0, 2, 1] },
    ]),
    node("MatMul", [rows, `${module}.lora_a.columns`], `${module}.lora.down`),
    node("Pad", [`${module}.lora.down`, PAD_ONE_COLUMN, ONE], `${module}.lora.down_and_one`),
    node("Gather", [`${module}.lora_b`, index.b], `${module}.lora_b.rows`),
    node("MatMul", [`${module}.lora.down_and_one`, `${module}.lora_b.rows`], pooler ? `${up}.rows` : up),
    ...(pooler ? [node("Squeeze", [`${up}.rows`, AXES_1], up)] : []),
  ];
}

/** Replaces the module's down, up and frozen-bias nodes by sidePath, where the down node was. */
function withSidePath(nodes: NodeProto[], module: UseLiteModuleName): NodeProto[] {
  const down = nodes[findNode(nodes, `${module}.lora.down`)] as NodeProto;
  findNode(nodes, `${module}.lora.up`);
  findNode(nodes, `${module}.frozen`);
  const replaced = new Set([`${module}.lora.down`, `${module}.lora.up`, `${module}.frozen`]);
  const kept = nodes.filter((n) => !replaced.has(n.output?.[0] as string));
  const at = kept.findIndex((n) => nodes.indexOf(n) > nodes.indexOf(down));
  kept.splice(at, 0, ...sidePath(module, down.input?.[0] as string));
  return kept;
}

/** Rewrites a graph built with `loraModules: modules` to take per-row adapters from the arena. */
export function buildUseLiteGatherGraph(
  sideInputGraph: Uint8Array,
  modules: readonly UseLiteModuleName[],
): UseLiteGatherGraph {
  const model = onnx.ModelProto.decode(sideInputGraph);
  const graph = model.graph as onnxProto.onnx.GraphProto;
  if (!graph.initializer.some((t) => t.name === AXES_1))
    throw new Error(`the USE-lite graph has no ${AXES_1}`);
  const { FLOAT, INT64 } = onnx.TensorProto.DataType;
  let nodes: NodeProto[] = [...graph.node];
  const biases = new Map<UseLiteModuleName, Float32Array>();
  for (const module of modules) {
    const bias = graph.initializer.find((t) => t.name === `${module}.bias`);
    if (!bias) throw new Error(`the USE-lite graph has no ${module}.bias`);
    biases.set(module, floatsOf(bias));
    for (const factor of ["lora_a", "lora_b"] as const) {
      const input = graph.input.find((i) => i.name === `${module}.${factor}`);
      const dims = input?.type?.tensorType?.shape?.dim;
      if (dims?.length !== 2) throw new Error(`the USE-lite graph has no 2-D input ${module}.${factor}`);
      // [in, rank] → [arena rows, in]; [rank, out] → [arena rows + 1, out]
      const width = factor === "lora_a" ? dims[0] : dims[1];
      dims.splice(
        0,
        2,
        { dimParam: `${factor}.arena_rows` },
        width as onnxProto.onnx.TensorShapeProto.IDimension,
      );
    }
    const index = loraIndexInputs(module);
    const rank = { dimParam: `${module}.rank` };
    graph.input.push(inputOf(index.a, INT64, [{ dimParam: "batch" }, rank]));
    graph.input.push(
      inputOf(index.b, INT64, [{ dimParam: "batch" }, { dimParam: `${module}.rank_and_bias` }]),
    );
    nodes = withSidePath(nodes, module);
    (nodes[findNode(nodes, module)] as NodeProto).input = [`${module}.matmul`, `${module}.lora.up`];
  }
  const unused = new Set(modules.map((module) => `${module}.bias`));
  graph.initializer = graph.initializer.filter((t) => !unused.has(t.name as string));
  graph.initializer.push(
    onnx.TensorProto.create({
      name: PAD_ONE_COLUMN,
      dims: [6],
      dataType: INT64,
      int64Data: [0, 0, 0, 0, 0, 1],
    }),
    onnx.TensorProto.create({ name: ONE, dims: [], dataType: FLOAT, floatData: [1] }),
  );
  graph.node = nodes as onnxProto.onnx.NodeProto[];
  return { onnx: onnx.ModelProto.encode(model).finish(), biases };
}

/** The serving graph from the package: side paths on all ten modules, rewritten for the arena. */
export function useLiteGatherGraph(): UseLiteGatherGraph {
  const sideInputGraph = buildUseLiteOnnx(loadUseLiteSource(), { loraModules: USE_LITE_MODULE_NAMES });
  return buildUseLiteGatherGraph(sideInputGraph, USE_LITE_MODULE_NAMES);
}

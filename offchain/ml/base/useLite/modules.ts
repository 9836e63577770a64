/**
 * Universal Sentence Encoder-lite as the converter and adapters see it: its shape, and the
 * ONE map of its linear layers (`USE_LITE_MODULES`). A module's name is what a LoRA adapter
 * targets (`target_modules`, `base_model.model.<module>.lora_A.weight`); in the ONNX graph
 * it owns the initializers `<module>.weight` `[in, out]` (MatMul layout, the transpose of a
 * PyTorch Linear's weight) and `<module>.bias` `[out]`, and its output value is `<module>`.
 * `source` names the tensors of the shipped TF.js graph the weights come from.
 */

const TF = "module_apply_default/Encoder_en/KonaTransformer/Encode";
const TF_STACK = `${TF}/TransformerStack`;
const TF_KERNEL = "module/Encoder_en/KonaTransformer/Encode";

export const USE_LITE = {
  id: "use-lite-en",
  /** Pieces in vocab.json; the embedding table has two more rows, never produced. */
  vocabSize: 8000,
  embeddingRows: 8002,
  embeddingDim: 256,
  hiddenDim: 512,
  ffnDim: 1536,
  heads: 4,
  layers: 2,
  /** Positions beyond this are dropped by the original graph (ClipToMaxLength). */
  maxTokens: 128,
  outputDim: 512,
  layerNormEpsilon: 1e-6,
  /** Added to the attention logits of padding keys (attention_bias_ignore_padding). */
  paddingBias: -1e9,
  l2Epsilon: 1e-12,
} as const;

export interface LinearModule {
  inputs: number;
  outputs: number;
  /** What the layer does, for readers of the map. */
  role: string;
  /** TF.js tensor names of the kernel and the bias in the package's model.json. */
  source: { kernel: string; bias: string };
}

type LayerPart = "attention.qkv" | "attention.output" | "ffn.in" | "ffn.out";

function layerModules<L extends 0 | 1>(
  layer: L,
  width: number,
): Record<`encoder.layer.${L}.${LayerPart}`, LinearModule> {
  const at = `${TF}/Layer_${layer}/TransformerLayer`;
  const kernelAt = `${TF_KERNEL}/Layer_${layer}/TransformerLayer`;
  const ffnAt = `${TF_STACK}/Layer_${layer}/TransformerLayer/FFN`;
  const p = `encoder.layer.${layer}`;
  return {
    [`${p}.attention.qkv`]: {
      inputs: width,
      outputs: 3 * width,
      role: `fused query/key/value projection (${USE_LITE.heads} heads of ${width / USE_LITE.heads}), a 1x1 Conv2D in TF`,
      source: {
        kernel: `${kernelAt}/MultiheadAttention/qkv_transform_single/kernel/part_0`,
        bias: `${at}/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`,
      },
    },
    [`${p}.attention.output`]: {
      inputs: width,
      outputs: USE_LITE.hiddenDim,
      role: "attention output projection, a 1x1 Conv2D in TF",
      source: {
        kernel: `${kernelAt}/MultiheadAttention/output_transform_single/kernel/part_0`,
        bias: `${at}/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`,
      },
    },
    [`${p}.ffn.in`]: {
      inputs: USE_LITE.hiddenDim,
      outputs: USE_LITE.ffnDim,
      role: "feed-forward expansion, followed by ReLU",
      source: {
        kernel: `${ffnAt}/conv1/Tensordot/Reshape_1`,
        bias: `${at}/FFN/conv1/bias/ConcatPartitions/concat`,
      },
    },
    [`${p}.ffn.out`]: {
      inputs: USE_LITE.ffnDim,
      outputs: USE_LITE.hiddenDim,
      role: "feed-forward contraction",
      source: {
        kernel: `${ffnAt}/conv2/Tensordot/Reshape_1`,
        bias: `${at}/FFN/conv2/bias/ConcatPartitions/concat`,
      },
    },
  } as Record<`encoder.layer.${L}.${LayerPart}`, LinearModule>;
}

/** Names of the linear layers (spelled out: the computed keys of layerModules type as string). */
export type UseLiteModuleName =
  | "encoder.layer.0.residual"
  | `encoder.layer.${0 | 1}.${LayerPart}`
  | "pooler.dense";

/** Every linear layer of the model, in the order the forward pass runs them. */
export const USE_LITE_MODULES: Readonly<Record<UseLiteModuleName, LinearModule>> = {
  "encoder.layer.0.residual": {
    inputs: USE_LITE.embeddingDim,
    outputs: USE_LITE.hiddenDim,
    role: "projects layer 0's input (256) to the residual stream's width (512), AdjustResidualInput in TF",
    source: {
      kernel: `${TF}/Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat`,
      bias: `${TF}/Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat`,
    },
  },
  ...layerModules(0, USE_LITE.embeddingDim),
  ...layerModules(1, USE_LITE.hiddenDim),
  "pooler.dense": {
    inputs: USE_LITE.hiddenDim,
    outputs: USE_LITE.outputDim,
    role: "dense layer after mean pooling, followed by tanh and L2 normalisation",
    source: {
      kernel: "module/Encoder_en/hidden_layers/tanh_layer_0/weights",
      bias: "module/Encoder_en/hidden_layers/tanh_layer_0/bias",
    },
  },
};

export const USE_LITE_MODULE_NAMES = Object.keys(USE_LITE_MODULES) as UseLiteModuleName[];

/** Tensors that are not linear layers: embeddings, layer norms, constants of the forward pass. */
export const USE_LITE_OTHER_TENSORS = {
  "embeddings.word": "module/Embeddings_en",
  /** Inverse timescales of the sinusoidal position signal, [1, 128]. */
  "embeddings.inverse_timescales": `${TF_STACK}/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`,
  "encoder.layer.0.attention.norm.weight": `${TF}/Layer_0/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`,
  "encoder.layer.0.attention.norm.bias": `${TF}/Layer_0/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`,
  "encoder.layer.0.ffn.norm.weight": `${TF}/Layer_0/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`,
  "encoder.layer.0.ffn.norm.bias": `${TF}/Layer_0/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`,
  "encoder.layer.1.attention.norm.weight": `${TF}/Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`,
  "encoder.layer.1.attention.norm.bias": `${TF}/Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`,
  "encoder.layer.1.ffn.norm.weight": `${TF}/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`,
  "encoder.layer.1.ffn.norm.bias": `${TF}/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`,
  /** 1/sqrt(head dim), applied to the queries. */
  "encoder.layer.0.attention.query_scale": `${TF_STACK}/Layer_0/TransformerLayer/MultiheadAttention/mul/y`,
  "encoder.layer.1.attention.query_scale": `${TF_STACK}/Layer_1/TransformerLayer/MultiheadAttention/mul/y`,
} as const;

export type UseLiteOtherTensor = keyof typeof USE_LITE_OTHER_TENSORS;

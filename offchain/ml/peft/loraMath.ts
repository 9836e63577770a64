/**
 * From a loaded PEFT adapter to what the ONNX graph computes. PEFT's LoRA on a Linear is
 *   y = x·Wᵀ + b + scaling · (x·Aᵀ)·Bᵀ      A = lora_A.weight [r, in], B = lora_B.weight [out, r]
 * Our graph stores W as [in, out] (already transposed) and takes side inputs
 *   lora_a = Aᵀ [in, r],  lora_b = Bᵀ · scaling [r, out]
 * so a module computes x·W + b + (x·lora_a)·lora_b. The merged-weights reference folds the same
 * update into the kernel: W' = W + scaling · (B·A)ᵀ, also [in, out]. The head is PyTorch's
 * Linear on the 512-d embedding: logits = W·e + b, then softmax.
 */
import * as ort from "onnxruntime-node";
import { buildUseLiteOnnx } from "../base/useLite/graph";
import { USE_LITE, USE_LITE_MODULES, type UseLiteModuleName } from "../base/useLite/modules";
import type { UseLiteSource } from "../base/useLite/source";
import { AdapterShapeError } from "../errors";
import type { ClassifierHead, LoraFactors, PeftAdapter } from "./adapterModel";
import { loraScaling } from "./config";

export interface SideInput {
  shape: [number, number];
  data: Float32Array;
}

/** lora_a = Aᵀ [in, r] and lora_b = Bᵀ·scaling [r, out] for one module. */
export function moduleSideInputs(
  factors: LoraFactors,
  r: number,
  inputs: number,
  outputs: number,
  scaling: number,
): { a: SideInput; b: SideInput } {
  const a = new Float32Array(inputs * r);
  const b = new Float32Array(r * outputs);
  for (let k = 0; k < r; k++) {
    for (let i = 0; i < inputs; i++) a[i * r + k] = factors.a[k * inputs + i] as number;
    for (let o = 0; o < outputs; o++) b[k * outputs + o] = (factors.b[o * r + k] as number) * scaling;
  }
  return { a: { shape: [inputs, r], data: a }, b: { shape: [r, outputs], data: b } };
}

/**
 * Side inputs for a graph built with `loraModules: graphModules`: the adapter's factors for the
 * modules it targets, zeros (B = 0 leaves the base exact) for the others.
 */
export function sideInputs(
  adapter: PeftAdapter,
  graphModules: readonly UseLiteModuleName[] = adapter.config.target_modules,
): Map<string, SideInput> {
  const { config } = adapter;
  const missing = config.target_modules.filter((module) => !graphModules.includes(module));
  if (missing.length > 0) {
    throw new AdapterShapeError(`the graph has no LoRA inputs for ${missing.join(", ")}`, {
      modules: missing,
    });
  }
  const scaling = loraScaling(config);
  const out = new Map<string, SideInput>();
  for (const module of graphModules) {
    const { inputs, outputs } = USE_LITE_MODULES[module];
    const factors = adapter.factors.get(module) ?? {
      a: new Float32Array(config.r * inputs),
      b: new Float32Array(outputs * config.r),
    };
    const { a, b } = moduleSideInputs(factors, config.r, inputs, outputs, scaling);
    out.set(`${module}.lora_a`, a);
    out.set(`${module}.lora_b`, b);
  }
  return out;
}

/** The side inputs as onnxruntime feeds. */
export function sideInputFeeds(
  adapter: PeftAdapter,
  graphModules?: readonly UseLiteModuleName[],
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, { shape, data }] of sideInputs(adapter, graphModules)) {
    feeds[name] = new ort.Tensor("float32", data, shape);
  }
  return feeds;
}

/** W' = W + scaling·(B·A)ᵀ for a row-major [in, out] kernel (float64 sums, rounded once). */
export function mergedKernel(
  weight: Float32Array,
  factors: LoraFactors,
  r: number,
  inputs: number,
  outputs: number,
  scaling: number,
): Float32Array {
  const delta = new Float64Array(inputs * outputs);
  for (let i = 0; i < inputs; i++) {
    const row = i * outputs;
    for (let k = 0; k < r; k++) {
      const a = factors.a[k * inputs + i] as number;
      for (let o = 0; o < outputs; o++) {
        delta[row + o] = (delta[row + o] as number) + a * (factors.b[o * r + k] as number);
      }
    }
  }
  return Float32Array.from(weight, (w, j) => w + scaling * (delta[j] as number));
}

/** A copy of the package's weights with the adapter merged into the kernels it targets. */
export function mergedUseLiteSource(source: UseLiteSource, adapter: PeftAdapter): UseLiteSource {
  const tensors = new Map(source.tensors);
  const scaling = loraScaling(adapter.config);
  for (const [module, factors] of adapter.factors) {
    const { inputs, outputs, source: names } = USE_LITE_MODULES[module];
    const kernel = tensors.get(names.kernel);
    if (kernel?.dtype !== "float32") throw new AdapterShapeError(`no float kernel for ${module}`, { module });
    const data = mergedKernel(
      kernel.data as Float32Array,
      factors,
      adapter.config.r,
      inputs,
      outputs,
      scaling,
    );
    tensors.set(names.kernel, { ...kernel, data });
  }
  return { ...source, tensors };
}

/** The merged-weights reference graph: the base's ONNX with W' in place of W. */
export function buildMergedUseLiteOnnx(source: UseLiteSource, adapter: PeftAdapter): Uint8Array {
  return buildUseLiteOnnx(mergedUseLiteSource(source, adapter));
}

/** The head on row-major [rows × 512] embeddings → probabilities [rows × classes]. */
export function classify(embeddings: Float32Array, head: ClassifierHead): Float32Array {
  const d = USE_LITE.outputDim;
  const classes = head.labels.length;
  const rows = embeddings.length / d;
  const out = new Float32Array(rows * classes);
  const logits = new Float64Array(classes);
  for (let row = 0; row < rows; row++) {
    for (let c = 0; c < classes; c++) {
      let sum = head.bias[c] as number;
      for (let j = 0; j < d; j++)
        sum += (head.weight[c * d + j] as number) * (embeddings[row * d + j] as number);
      logits[c] = sum;
    }
    const max = Math.max(...logits);
    let total = 0;
    for (let c = 0; c < classes; c++) total += Math.exp((logits[c] as number) - max);
    for (let c = 0; c < classes; c++) out[row * classes + c] = Math.exp((logits[c] as number) - max) / total;
  }
  return out;
}

/**
 * Base models: frozen networks with one hidden layer that adapters modify.
 *  - `landeBaseModel()`: lande's pretrained character n-gram MLP (620 → 120 ReLU → 50
 *    languages), converted to ONNX by our graph builder. The default base of OpenLoRA.
 *  - `wideBenchmarkBase()`: same architecture, wider (768 → 768 → 50 by default), with
 *    random but seeded weights, to measure serving where LoRA cost matters.
 * A base model is identified by its content hash: keccak256 of its ONNX bytes.
 */
import type { Hex } from "viem";
import { contentHash } from "../hash";
import { buildBaseGraph } from "../onnx/baseGraph";
import { Rng } from "../random";
import { Featurizer } from "./featurizer";
import { type DenseLayer, loadLandeNetwork } from "./landeSource";

export interface BaseModel {
  /** Human-readable id, e.g. `lande-t50`; the hash is the real identity. */
  id: string;
  /** The LoRA target: input d → hidden k (pre-activation x·W1 + b1, then ReLU). */
  hidden: DenseLayer;
  /** The base's own output layer: k → labels (softmax). */
  output: DenseLayer;
  labels: readonly string[];
  /** Text → features for bases that read text (lande); absent for the benchmark base. */
  featurizer?: Featurizer;
  /** The ONNX model bytes and their keccak256. */
  onnx: Uint8Array;
  hash: Hex;
}

function finish(fields: Omit<BaseModel, "onnx" | "hash">, metadata: [string, string][]): BaseModel {
  const onnx = buildBaseGraph(fields, {
    docString: `OpenLoRA base model ${fields.id}`,
    metadata: [["openlora.base_id", fields.id], ["openlora.lora_target", "hidden"], ...metadata],
  });
  return { ...fields, onnx, hash: contentHash(onnx) };
}

export const LANDE_BASE_ID = "lande-t50";

let landeCache: BaseModel | undefined;

/** The lande base (built once per process). */
export function landeBaseModel(): BaseModel {
  landeCache ??= buildLandeBaseModel();
  return landeCache;
}

/** Builds the lande base from the package files, from scratch (decode, graph, serialize). */
export function buildLandeBaseModel(): BaseModel {
  const network = loadLandeNetwork(true);
  return finish(
    {
      id: LANDE_BASE_ID,
      hidden: network.hidden,
      output: network.output,
      labels: network.languages,
      featurizer: new Featurizer(network.vocabulary),
    },
    [
      ["openlora.source", `lande@${network.version} standalone/t50 (MIT)`],
      ["openlora.labels", network.languages.join(",")],
    ],
  );
}

export interface WideBaseOptions {
  inputDim?: number;
  hiddenDim?: number;
  outputDim?: number;
  seed?: number;
}

function randomDense(rng: Rng, inputs: number, outputs: number): DenseLayer {
  const std = 1 / Math.sqrt(inputs);
  const weights = new Float32Array(inputs * outputs);
  for (let i = 0; i < weights.length; i++) weights[i] = rng.normal() * std;
  const biases = new Float32Array(outputs);
  for (let i = 0; i < outputs; i++) biases[i] = rng.normal() * 0.01;
  return { inputs, outputs, weights, biases };
}

/** A wide base with seeded random weights (not trained): for serving benchmarks only. */
export function wideBenchmarkBase(options: WideBaseOptions = {}): BaseModel {
  const { inputDim = 768, hiddenDim = 768, outputDim = 50, seed = 1 } = options;
  const rng = new Rng(seed);
  const id = `wide-${inputDim}x${hiddenDim}x${outputDim}-seed${seed}`;
  return finish(
    {
      id,
      hidden: randomDense(rng, inputDim, hiddenDim),
      output: randomDense(rng, hiddenDim, outputDim),
      labels: Array.from({ length: outputDim }, (_, i) => `class${i}`),
    },
    [["openlora.source", "seeded random weights for benchmarks (not a trained model)"]],
  );
}

/**
 * `adapter_model.safetensors` in PEFT's layout for USE-lite:
 *
 *   base_model.model.<module>.lora_A.weight   [r, in]    (= the graph's lora_a transposed)
 *   base_model.model.<module>.lora_B.weight   [out, r]   (= lora_b transposed, before scaling)
 *   base_model.model.classifier.weight        [classes, 512]  the head, as PEFT saves a
 *   base_model.model.classifier.bias          [classes]       `modules_to_save` module
 *
 * `__metadata__` holds `format: pt` (as PEFT writes) and our record under `openlora.*`: the
 * base model's hash and id, the whole LoRA config (canonical JSON, so the file alone says how
 * to serve it and the registered hash covers it), labels and provenance. The registered
 * adapter hash is keccak256 of these bytes. Decoding refuses anything it does not fully
 * understand, naming the tensor or key.
 */
import type { Hex } from "viem";
import { USE_LITE, USE_LITE_MODULES, type UseLiteModuleName } from "../base/useLite/modules";
import { USE_LITE_HASH } from "../base/useLite/useLiteBase";
import { AdapterHashMismatchError, BaseModelMismatchError, SafetensorsFormatError } from "../errors";
import { contentHash } from "../hash";
import { HEAD_MODULE, hasHead, type LoraConfig, loraConfigCanonical, parseLoraConfig } from "./config";
import {
  NonFiniteTensorError,
  PeftConfigError,
  PeftRankError,
  PeftShapeError,
  PeftTensorSetError,
  UnknownModuleError,
} from "./errors";
import { canonicalJson } from "./json";
import { type Provenance, provenanceSchema } from "./provenance";
import { decodeSafetensors, encodeSafetensors, type FloatTensor, type SafetensorsDtype } from "./safetensors";

export const ADAPTER_MODEL_FILE = "adapter_model.safetensors";
export const PEFT_ADAPTER_FORMAT = "openlora-peft-lora/1";
export const KEY_PREFIX = "base_model.model.";
export const HEAD_KEYS = {
  weight: `${KEY_PREFIX}${HEAD_MODULE}.weight`,
  bias: `${KEY_PREFIX}${HEAD_MODULE}.bias`,
} as const;
const LORA_KEY = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;

/** One module's factors in PEFT's orientation (row-major). */
export interface LoraFactors {
  /** lora_A.weight [r, in]. */
  a: Float32Array;
  /** lora_B.weight [out, r]. */
  b: Float32Array;
}

/** The task head on the 512-d embedding: logits = W·e + b, softmax. PyTorch Linear layout. */
export interface ClassifierHead {
  labels: string[];
  /** [classes, 512]. */
  weight: Float32Array;
  /** [classes]. */
  bias: Float32Array;
}

export interface PeftAdapter {
  config: LoraConfig;
  factors: Map<UseLiteModuleName, LoraFactors>;
  head?: ClassifierHead;
}

export interface DecodedPeftAdapter {
  adapter: PeftAdapter;
  provenance: Provenance;
  /** keccak256 of the bytes: the registered adapter hash. */
  hash: Hex;
  /** The dtypes the file stored (F16 / BF16 are converted to float32 on load). */
  dtypes: SafetensorsDtype[];
}

export function loraKey(module: string, factor: "A" | "B"): string {
  return `${KEY_PREFIX}${module}.lora_${factor}.weight`;
}

const META = {
  format: "format",
  openlora: "openlora.format",
  baseHash: "openlora.base_model_hash",
  baseId: "openlora.base_model_id",
  config: "openlora.adapter_config",
  labels: "openlora.labels",
  name: "openlora.name",
  seed: "openlora.seed",
  datasets: "openlora.datasets",
  contributors: "openlora.contributors",
  training: "openlora.training",
  metrics: "openlora.metrics",
} as const;

function checkShape(key: string, tensor: FloatTensor, expected: readonly number[], what: string): void {
  const { shape } = tensor;
  if (shape.length !== expected.length || shape.some((size, i) => size !== expected[i])) {
    throw new PeftShapeError(`tensor ${key} has shape [${shape}], expected [${expected}] (${what})`, {
      tensor: key,
      shape,
      expected,
    });
  }
}

function checkFinite(key: string, data: Float32Array): void {
  const index = firstNonFinite(data);
  if (index >= 0) {
    throw new NonFiniteTensorError(`tensor ${key} holds a non-finite value at ${index}`, {
      tensor: key,
      index,
    });
  }
}

/** Index of the first NaN or ±∞, or −1 (a plain loop: a cold load checks ~120k values). */
function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    // v − v is 0 for every finite v, NaN for NaN and ±∞.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Sorts every tensor key into the config's modules or refuses it. */
function checkKeys(keys: Iterable<string>, config: LoraConfig): void {
  const targets = new Set<string>(config.target_modules);
  for (const key of keys) {
    if (key === HEAD_KEYS.weight || key === HEAD_KEYS.bias) {
      if (hasHead(config)) continue;
      throw new PeftTensorSetError(`tensor ${key}: the config declares no ${HEAD_MODULE}`, { tensor: key });
    }
    const match = LORA_KEY.exec(key);
    const module = match?.[1];
    if (module !== undefined && !(module in USE_LITE_MODULES)) {
      throw new UnknownModuleError(`tensor ${key}: ${module} is not a USE-lite linear layer`, {
        tensor: key,
        module,
      });
    }
    if (module === undefined || !targets.has(module)) {
      throw new PeftTensorSetError(`tensor ${key} is not declared by the config`, { tensor: key });
    }
  }
}

function tensorOf(tensors: ReadonlyMap<string, FloatTensor>, key: string): FloatTensor {
  const tensor = tensors.get(key);
  if (!tensor)
    throw new PeftTensorSetError(`tensor ${key} is declared by the config but missing`, { tensor: key });
  return tensor;
}

function readFactors(
  tensors: ReadonlyMap<string, FloatTensor>,
  config: LoraConfig,
): Map<UseLiteModuleName, LoraFactors> {
  const factors = new Map<UseLiteModuleName, LoraFactors>();
  for (const module of config.target_modules) {
    const { inputs, outputs } = USE_LITE_MODULES[module];
    const [keyA, keyB] = [loraKey(module, "A"), loraKey(module, "B")];
    const [a, b] = [tensorOf(tensors, keyA), tensorOf(tensors, keyB)];
    checkShape(keyA, a, [a.shape[0] ?? 0, inputs], `[r, in] of ${module}`);
    checkShape(keyB, b, [outputs, b.shape[1] ?? 0], `[out, r] of ${module}`);
    if (a.shape[0] !== b.shape[1]) {
      throw new PeftRankError(`tensor ${keyA} has rank ${a.shape[0]} but ${keyB} has rank ${b.shape[1]}`, {
        tensor: keyB,
        rankA: a.shape[0],
        rankB: b.shape[1],
      });
    }
    if (a.shape[0] !== config.r) {
      throw new PeftRankError(`tensor ${keyA} has rank ${a.shape[0]}, the config's r is ${config.r}`, {
        tensor: keyA,
        rank: a.shape[0],
        r: config.r,
      });
    }
    checkFinite(keyA, a.data);
    checkFinite(keyB, b.data);
    factors.set(module, { a: a.data, b: b.data });
  }
  return factors;
}

function readHead(
  tensors: ReadonlyMap<string, FloatTensor>,
  config: LoraConfig,
  labels: string[],
): ClassifierHead | undefined {
  if (!hasHead(config)) {
    if (labels.length > 0)
      throw new SafetensorsFormatError("labels given for an adapter without a head", { labels });
    return undefined;
  }
  if (labels.length < 2 || new Set(labels).size !== labels.length || labels.some((label) => label === "")) {
    throw new SafetensorsFormatError("a classifier needs two or more distinct, non-empty labels", { labels });
  }
  const weight = tensorOf(tensors, HEAD_KEYS.weight);
  const bias = tensorOf(tensors, HEAD_KEYS.bias);
  checkShape(HEAD_KEYS.weight, weight, [labels.length, USE_LITE.outputDim], "[classes, 512]");
  checkShape(HEAD_KEYS.bias, bias, [labels.length], "[classes]");
  checkFinite(HEAD_KEYS.weight, weight.data);
  checkFinite(HEAD_KEYS.bias, bias.data);
  return { labels, weight: weight.data, bias: bias.data };
}

function sized(key: string, data: Float32Array, shape: number[]): FloatTensor {
  const expected = shape.reduce((x, y) => x * y, 1);
  if (data.length !== expected) {
    throw new PeftShapeError(`tensor ${key} has ${data.length} values, expected [${shape}]`, {
      tensor: key,
      values: data.length,
      expected: shape,
    });
  }
  return { shape, data };
}

/** Checks an in-memory adapter as decoding would; returns its tensors by PEFT key. */
export function adapterTensors(adapter: PeftAdapter): Record<string, FloatTensor> {
  const { config } = adapter;
  const out: Record<string, FloatTensor> = {};
  for (const [module, { a, b }] of adapter.factors) {
    const [keyA, keyB] = [loraKey(module, "A"), loraKey(module, "B")];
    checkKeys([keyA, keyB], config);
    const { inputs, outputs } = USE_LITE_MODULES[module];
    out[keyA] = sized(keyA, a, [config.r, inputs]);
    out[keyB] = sized(keyB, b, [outputs, config.r]);
  }
  if (adapter.head) {
    const { weight, bias, labels } = adapter.head;
    out[HEAD_KEYS.weight] = sized(HEAD_KEYS.weight, weight, [labels.length, USE_LITE.outputDim]);
    out[HEAD_KEYS.bias] = sized(HEAD_KEYS.bias, bias, [labels.length]);
  }
  const tensors = new Map(Object.entries(out));
  checkKeys(tensors.keys(), config);
  readFactors(tensors, config);
  readHead(tensors, config, adapter.head?.labels ?? []);
  return out;
}

export interface EncodeOptions {
  /** The base's content hash (default: the pinned USE-lite hash). */
  baseHash?: Hex;
  /** Stored dtype; F32 unless told (F16 / BF16 round to nearest even). */
  dtype?: SafetensorsDtype;
}

/** Adapter + provenance → deterministic safetensors bytes (sorted keys, canonical JSON metadata). */
export function encodePeftAdapter(
  adapter: PeftAdapter,
  provenance: Provenance,
  options: EncodeOptions = {},
): Uint8Array {
  const record = provenanceSchema.parse(provenance);
  const metadata: Record<string, string> = {
    [META.format]: "pt",
    [META.openlora]: PEFT_ADAPTER_FORMAT,
    [META.baseHash]: options.baseHash ?? USE_LITE_HASH,
    [META.baseId]: USE_LITE.id,
    [META.config]: loraConfigCanonical(adapter.config),
    [META.labels]: canonicalJson(adapter.head?.labels ?? []),
    [META.name]: record.name,
    [META.seed]: String(record.seed),
    [META.datasets]: canonicalJson(record.datasets),
    [META.contributors]: canonicalJson(record.contributors),
    [META.metrics]: canonicalJson(record.metrics),
  };
  if (record.training) metadata[META.training] = canonicalJson(record.training);
  return encodeSafetensors(adapterTensors(adapter), metadata, options.dtype);
}

function parseJsonMeta(metadata: Record<string, string>, key: string): unknown {
  const text = metadata[key];
  if (text === undefined) throw new SafetensorsFormatError(`__metadata__ has no ${key}`, { key });
  try {
    return JSON.parse(text);
  } catch {
    throw new SafetensorsFormatError(`__metadata__ ${key} is not JSON`, { key });
  }
}

function readProvenance(metadata: Record<string, string>): Provenance {
  const seed = metadata[META.seed];
  const raw = {
    name: metadata[META.name],
    seed: seed !== undefined && /^\d+$/.test(seed) ? Number(seed) : seed,
    datasets: parseJsonMeta(metadata, META.datasets),
    contributors: parseJsonMeta(metadata, META.contributors),
    training: metadata[META.training] === undefined ? undefined : parseJsonMeta(metadata, META.training),
    metrics: parseJsonMeta(metadata, META.metrics),
  };
  const result = provenanceSchema.safeParse(raw);
  if (!result.success) {
    throw new SafetensorsFormatError("__metadata__ provenance is invalid", { issues: result.error.issues });
  }
  return result.data;
}

function readLabels(metadata: Record<string, string>): string[] {
  const labels = parseJsonMeta(metadata, META.labels);
  if (!Array.isArray(labels) || !labels.every((label) => typeof label === "string")) {
    throw new SafetensorsFormatError(`__metadata__ ${META.labels} is not a list of strings`, {});
  }
  return labels;
}

export interface DecodeOptions {
  /** The base this runner serves (default: the pinned USE-lite hash). */
  baseHash?: Hex;
  /** The registered hash the bytes must have. */
  expectedHash?: string;
  /** The config read from adapter_config.json: it must equal the one inside the file. */
  config?: LoraConfig;
}

function checkBase(metadata: Record<string, string>, config: LoraConfig, baseHash: Hex): void {
  const hash = metadata[META.baseHash];
  if (hash !== baseHash) {
    throw new BaseModelMismatchError(`${META.baseHash} ${hash} is not the base's ${baseHash}`, {
      key: META.baseHash,
      adapterBase: hash,
      base: baseHash,
    });
  }
  const name = config.base_model_name_or_path;
  if (metadata[META.baseId] !== USE_LITE.id || (name !== null && name !== USE_LITE.id)) {
    throw new BaseModelMismatchError(
      `adapter names base ${name ?? metadata[META.baseId]}, not ${USE_LITE.id}`,
      {
        key: "base_model_name_or_path",
        name,
        id: metadata[META.baseId],
      },
    );
  }
}

/** Verifies and decodes adapter bytes; refuses any part it would not serve exactly. */
export function decodePeftAdapter(bytes: Uint8Array, options: DecodeOptions = {}): DecodedPeftAdapter {
  const hash = contentHash(bytes);
  if (options.expectedHash !== undefined && hash !== options.expectedHash.toLowerCase()) {
    throw new AdapterHashMismatchError("adapter bytes do not match the expected hash", {
      expectedHash: options.expectedHash,
      actual: hash,
    });
  }
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata[META.openlora] !== PEFT_ADAPTER_FORMAT) {
    throw new SafetensorsFormatError(`not an OpenLoRA PEFT adapter (${META.openlora})`, {
      key: META.openlora,
      format: metadata[META.openlora],
    });
  }
  const config = parseLoraConfig(parseJsonMeta(metadata, META.config), `__metadata__ ${META.config}`);
  checkBase(metadata, config, options.baseHash ?? USE_LITE_HASH);
  if (options.config && loraConfigCanonical(options.config) !== loraConfigCanonical(config)) {
    throw new PeftConfigError("adapter_config.json differs from the config inside the adapter file", {
      file: loraConfigCanonical(options.config),
      embedded: loraConfigCanonical(config),
    });
  }
  checkKeys(tensors.keys(), config);
  const factors = readFactors(tensors, config);
  const head = readHead(tensors, config, readLabels(metadata));
  const dtypes = [...new Set([...tensors.values()].map((tensor) => tensor.dtype))].sort();
  const adapter: PeftAdapter = head ? { config, factors, head } : { config, factors };
  return { adapter, provenance: readProvenance(metadata), hash, dtypes };
}

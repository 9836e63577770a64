/**
 * Adapter files: `adapter.safetensors` (LoRA factors, optional task head, and self-describing
 * metadata: target, rank, scale, labels, base-model hash) and `manifest.json`.
 * The adapter's content hash is keccak256 of the safetensors bytes; it is what the registry
 * records and what a runner checks before using fetched bytes.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Hex } from "viem";
import type { BaseModel } from "../base/baseModel";
import {
  AdapterHashMismatchError,
  AdapterShapeError,
  BaseModelMismatchError,
  ManifestError,
  SafetensorsFormatError,
} from "../errors";
import { contentHash } from "../hash";
import { LORA_TARGET, type LoraAdapter } from "./adapter";
import { formatJson } from "./json";
import { ADAPTER_FORMAT, type AdapterManifest, MANIFEST_FORMAT, parseManifest } from "./manifest";
import { readSafetensors, type Tensor, writeSafetensors } from "./safetensors";

export const ADAPTER_FILE = "adapter.safetensors";
export const MANIFEST_FILE = "manifest.json";

/** Tensor names inside the safetensors file. */
export const TENSORS = {
  a: "lora.hidden.a",
  b: "lora.hidden.b",
  headWeight: "head.weight",
  headBias: "head.bias",
} as const;

export function encodeAdapter(adapter: LoraAdapter, base: BaseModel): Uint8Array {
  const d = base.hidden.inputs;
  const k = base.hidden.outputs;
  const tensors: Record<string, Tensor> = {
    [TENSORS.a]: { shape: [d, adapter.rank], data: adapter.a },
    [TENSORS.b]: { shape: [adapter.rank, k], data: adapter.b },
  };
  if (adapter.head) {
    const classes = adapter.head.labels.length;
    tensors[TENSORS.headWeight] = { shape: [k, classes], data: adapter.head.weight };
    tensors[TENSORS.headBias] = { shape: [classes], data: adapter.head.bias };
  }
  return writeSafetensors(tensors, {
    format: ADAPTER_FORMAT,
    base_model_hash: base.hash,
    base_model_id: base.id,
    target: adapter.target,
    rank: String(adapter.rank),
    scale: String(adapter.scale),
    labels: JSON.stringify(adapter.head?.labels ?? []),
  });
}

function expectShape(name: string, tensor: Tensor | undefined, shape: number[]): Float32Array {
  if (!tensor) throw new AdapterShapeError(`adapter has no tensor ${name}`, { name });
  if (tensor.shape.length !== shape.length || tensor.shape.some((size, i) => size !== shape[i])) {
    throw new AdapterShapeError(`adapter tensor ${name} has shape [${tensor.shape}], expected [${shape}]`, {
      name,
      actual: tensor.shape,
      expected: shape,
    });
  }
  return tensor.data;
}

function parseLabels(text: string | undefined): string[] {
  let labels: unknown;
  try {
    labels = JSON.parse(text ?? "[]");
  } catch {
    throw new SafetensorsFormatError("adapter labels metadata is not JSON");
  }
  if (!Array.isArray(labels) || !labels.every((label) => typeof label === "string")) {
    throw new SafetensorsFormatError("adapter labels metadata must be a list of strings");
  }
  return labels;
}

/**
 * Decodes adapter bytes for `base`, refusing them unless they hash to `expectedHash`, were
 * made for this base (by hash) and hold tensors of the right shapes.
 */
export function decodeAdapter(bytes: Uint8Array, base: BaseModel, expectedHash: Hex | string): LoraAdapter {
  const actual = contentHash(bytes);
  if (actual !== expectedHash.toLowerCase()) {
    throw new AdapterHashMismatchError("adapter bytes do not match the expected hash", {
      expectedHash,
      actual,
    });
  }
  const { tensors, metadata } = readSafetensors(bytes);
  if (metadata.format !== ADAPTER_FORMAT) {
    throw new SafetensorsFormatError("not an OpenLoRA adapter file", { format: metadata.format });
  }
  if (metadata.base_model_hash !== base.hash) {
    throw new BaseModelMismatchError("adapter was trained for another base model", {
      adapterBase: metadata.base_model_hash,
      base: base.hash,
    });
  }
  if (metadata.target !== LORA_TARGET)
    throw new AdapterShapeError("unknown LoRA target", { target: metadata.target });
  const rank = Number(metadata.rank);
  const scale = Number(metadata.scale);
  if (!Number.isInteger(rank) || rank <= 0 || !Number.isFinite(scale)) {
    throw new SafetensorsFormatError("bad rank or scale metadata", {
      rank: metadata.rank,
      scale: metadata.scale,
    });
  }
  const d = base.hidden.inputs;
  const k = base.hidden.outputs;
  const adapter: LoraAdapter = {
    target: LORA_TARGET,
    rank,
    scale,
    a: expectShape(TENSORS.a, tensors.get(TENSORS.a), [d, rank]),
    b: expectShape(TENSORS.b, tensors.get(TENSORS.b), [rank, k]),
  };
  const labels = parseLabels(metadata.labels);
  const hasHead = tensors.has(TENSORS.headWeight) || tensors.has(TENSORS.headBias);
  if (hasHead) {
    if (labels.length < 2) throw new AdapterShapeError("task head needs at least two labels", { labels });
    adapter.head = {
      weight: expectShape(TENSORS.headWeight, tensors.get(TENSORS.headWeight), [k, labels.length]),
      bias: expectShape(TENSORS.headBias, tensors.get(TENSORS.headBias), [labels.length]),
      labels,
    };
  }
  const expectedCount = hasHead ? 4 : 2;
  if (tensors.size !== expectedCount) {
    throw new AdapterShapeError("adapter holds unexpected tensors", { tensors: [...tensors.keys()] });
  }
  return adapter;
}

export interface LoadedAdapter {
  adapter: LoraAdapter;
  manifest: AdapterManifest;
  bytes: Uint8Array;
}

/**
 * Loads `manifest.json` (a directory or the manifest path) and its adapter file, verifying
 * hash, base model and shapes; `expectedHash` (e.g. from the registry) must also match.
 */
export function loadAdapter(location: string, base: BaseModel, expectedHash?: Hex | string): LoadedAdapter {
  const manifestPath = location.endsWith(".json") ? location : join(location, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(manifestPath, "utf8"));
  } catch (error) {
    throw new ManifestError("cannot read adapter manifest", { path: manifestPath, cause: String(error) });
  }
  const manifest = parseManifest(raw, manifestPath);
  if (manifest.baseModel.hash !== base.hash) {
    throw new BaseModelMismatchError("manifest names another base model", {
      manifestBase: manifest.baseModel.hash,
      base: base.hash,
    });
  }
  if (expectedHash && manifest.adapter.hash !== expectedHash.toLowerCase()) {
    throw new AdapterHashMismatchError("manifest adapter hash differs from the expected hash", {
      expectedHash,
      manifestHash: manifest.adapter.hash,
    });
  }
  const adapterPath = join(dirname(manifestPath), manifest.adapter.file);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(adapterPath));
  } catch (error) {
    throw new ManifestError("cannot read the adapter file named by the manifest", {
      path: adapterPath,
      cause: String(error),
    });
  }
  const adapter = decodeAdapter(bytes, base, manifest.adapter.hash);
  const labels = adapter.head?.labels ?? [...base.labels];
  const { lora } = manifest;
  if (
    lora.rank !== adapter.rank ||
    lora.scale !== adapter.scale ||
    lora.inputDim !== base.hidden.inputs ||
    lora.outputDim !== base.hidden.outputs ||
    manifest.head !== Boolean(adapter.head) ||
    JSON.stringify(manifest.labels) !== JSON.stringify(labels)
  ) {
    throw new AdapterShapeError("manifest does not describe its adapter file", {
      lora,
      labels: manifest.labels,
    });
  }
  return { adapter, manifest, bytes };
}

/** Fields of a manifest that depend on the adapter bytes, filled in by saveAdapter. */
export type ManifestBody = Omit<
  AdapterManifest,
  "format" | "baseModel" | "adapter" | "lora" | "labels" | "head"
>;

/** Writes `adapter.safetensors` and `manifest.json` into `dir`; returns the manifest. */
export function saveAdapter(
  dir: string,
  base: BaseModel,
  adapter: LoraAdapter,
  body: ManifestBody,
): AdapterManifest {
  const bytes = encodeAdapter(adapter, base);
  const manifest = parseManifest({
    format: MANIFEST_FORMAT,
    name: body.name,
    baseModel: { id: base.id, hash: base.hash },
    adapter: { format: ADAPTER_FORMAT, file: ADAPTER_FILE, hash: contentHash(bytes), bytes: bytes.length },
    lora: {
      target: adapter.target,
      rank: adapter.rank,
      scale: adapter.scale,
      inputDim: base.hidden.inputs,
      outputDim: base.hidden.outputs,
    },
    labels: adapter.head?.labels ?? [...base.labels],
    head: Boolean(adapter.head),
    seed: body.seed,
    datasets: body.datasets,
    contributors: body.contributors,
    training: body.training,
    metrics: body.metrics,
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, ADAPTER_FILE), bytes);
  writeFileSync(join(dir, MANIFEST_FILE), formatJson(manifest));
  return manifest;
}

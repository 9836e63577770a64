/**
 * An adapter directory as PEFT lays it out, plus our manifest:
 *
 *   adapter_config.json          LoraConfig (PEFT's keys, sorted)
 *   adapter_model.safetensors    the tensors, config and provenance (hash = keccak256 of it)
 *   manifest.json                provenance and summary for people and registries
 *
 * Loading reads all three and refuses unless they agree: the config file must equal the
 * config inside the safetensors, and the manifest must describe the file it names.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Hex } from "viem";
import { USE_LITE } from "../base/useLite/modules";
import { USE_LITE_HASH } from "../base/useLite/useLiteBase";
import { AdapterHashMismatchError, BaseModelMismatchError, ManifestError } from "../errors";

import {
  ADAPTER_MODEL_FILE,
  type DecodedPeftAdapter,
  decodePeftAdapter,
  type EncodeOptions,
  encodePeftAdapter,
  PEFT_ADAPTER_FORMAT,
  type PeftAdapter,
} from "./adapterModel";
import { ADAPTER_CONFIG_FILE, hasHead, loraConfigFile, loraScaling, parseLoraConfig } from "./config";
import { PeftConfigError } from "./errors";
import { canonicalJson, sortedJsonFile } from "./json";
import { MANIFEST_FILE, PEFT_MANIFEST_FORMAT, type PeftManifest, parsePeftManifest } from "./manifest";
import type { Provenance } from "./provenance";

export interface LoadedPeftAdapter extends DecodedPeftAdapter {
  manifest: PeftManifest;
  bytes: Uint8Array;
}

function manifestFor(decoded: DecodedPeftAdapter, bytes: Uint8Array, baseHash: Hex): PeftManifest {
  const { adapter, provenance } = decoded;
  const { config } = adapter;
  return parsePeftManifest({
    format: PEFT_MANIFEST_FORMAT,
    ...provenance,
    baseModel: { id: USE_LITE.id, hash: baseHash },
    adapter: {
      format: PEFT_ADAPTER_FORMAT,
      file: ADAPTER_MODEL_FILE,
      hash: decoded.hash,
      bytes: bytes.length,
    },
    config: { file: ADAPTER_CONFIG_FILE },
    lora: {
      r: config.r,
      alpha: config.lora_alpha,
      useRslora: config.use_rslora,
      scaling: loraScaling(config),
      targetModules: config.target_modules,
    },
    head: hasHead(config),
    labels: adapter.head?.labels ?? [],
  });
}

/** Writes the three files into `dir` (same content → same bytes); returns the manifest. */
export function savePeftAdapter(
  dir: string,
  adapter: PeftAdapter,
  provenance: Provenance,
  options: EncodeOptions = {},
): PeftManifest {
  const baseHash = options.baseHash ?? USE_LITE_HASH;
  const bytes = encodePeftAdapter(adapter, provenance, options);
  const decoded = decodePeftAdapter(bytes, { baseHash });
  const manifest = manifestFor(decoded, bytes, baseHash);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, ADAPTER_MODEL_FILE), bytes);
  writeFileSync(join(dir, ADAPTER_CONFIG_FILE), loraConfigFile(adapter.config));
  writeFileSync(join(dir, MANIFEST_FILE), sortedJsonFile(manifest));
  return manifest;
}

function readJson(
  path: string,
  error: (message: string, details: Record<string, unknown>) => Error,
): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw error(`cannot read ${path}`, { path, cause: String(cause) });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw error(`${path} is not JSON`, { path, cause: String(cause) });
  }
}

export interface LoadOptions {
  /** The registered hash (from the registry): the manifest and the bytes must match it. */
  expectedHash?: string;
  /** The base this process serves (default: the pinned USE-lite hash). */
  baseHash?: Hex;
}

/** Loads and verifies an adapter directory; refuses it unless every part is understood and agrees. */
export function loadPeftAdapter(dir: string, options: LoadOptions = {}): LoadedPeftAdapter {
  const baseHash = options.baseHash ?? USE_LITE_HASH;
  const manifestPath = join(dir, MANIFEST_FILE);
  const manifest = parsePeftManifest(
    readJson(manifestPath, (m, d) => new ManifestError(m, d)),
    manifestPath,
  );
  if (manifest.baseModel.hash !== baseHash) {
    throw new BaseModelMismatchError("manifest names another base model", {
      manifestBase: manifest.baseModel.hash,
      base: baseHash,
    });
  }
  if (options.expectedHash !== undefined && manifest.adapter.hash !== options.expectedHash.toLowerCase()) {
    throw new AdapterHashMismatchError("manifest adapter hash differs from the expected hash", {
      expectedHash: options.expectedHash,
      manifestHash: manifest.adapter.hash,
    });
  }
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  const config = parseLoraConfig(
    readJson(configPath, (m, d) => new PeftConfigError(m, d)),
    configPath,
  );
  const bytesPath = join(dir, ADAPTER_MODEL_FILE);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(bytesPath));
  } catch (cause) {
    throw new ManifestError(`cannot read ${bytesPath}`, { path: bytesPath, cause: String(cause) });
  }
  const decoded = decodePeftAdapter(bytes, { baseHash, expectedHash: manifest.adapter.hash, config });
  const expected = manifestFor(decoded, bytes, baseHash);
  if (canonicalJson(expected) !== canonicalJson(manifest)) {
    throw new ManifestError(`${manifestPath} does not describe ${ADAPTER_MODEL_FILE}`, {
      manifest: canonicalJson(manifest),
      file: canonicalJson(expected),
    });
  }
  return { ...decoded, manifest, bytes };
}

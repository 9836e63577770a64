/**
 * OpenAI-compatible routes beside the Open Inference Protocol ones (docs/protocol/openai.md):
 * `GET /v1/models` lists the base and every served adapter as vLLM lists LoRA adapters (`parent`
 * the base's id, `root` the content hash of the weights), and `POST /v1/embeddings` answers an
 * embedding adapter's sentence embeddings, for a batch of texts, paid with one voucher priced per
 * input row. Model ids: an adapter is its on-chain model id as a decimal string ("3"); the base is
 * its own id ("use-lite-en"). This module parses, prices and renders; http.ts runs the 402 flow.
 */
import type { Hex } from "viem";
import { z } from "zod";
import { USE_LITE } from "../ml/base/useLite/modules";
import { useLiteBase } from "../ml/base/useLite/useLiteBase";
import type { ServedModel } from "./catalog";

/** At most this many texts in one request: a batch is queued whole, and the queue is shared. */
export const MAX_EMBEDDING_INPUTS = 256;
/** The same limit per text as POST /v2/models/{id}/infer. */
export const MAX_TEXT_CHARS = 10_000;
/** The model's output width; `dimensions` may only ask for this. */
export const EMBEDDING_DIMENSIONS = 512;

export type EncodingFormat = "float" | "base64";

/** An error answered in OpenAI's shape, `{ error: { message, type, param, code } }`. */
export class OpenAiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = "OpenAiError";
  }
}

/** OpenAI's error `type` for a status. */
export function openAiErrorType(status: number): string {
  if (status === 402) return "payment_required";
  if (status === 403) return "permission_error";
  if (status === 404) return "invalid_request_error";
  if (status === 409) return "conflict_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export function openAiErrorBody(status: number, message: string, code: string | null, param: string | null) {
  return { error: { message, type: openAiErrorType(status), param, code } };
}

const text = z
  .string({ error: "must be a string (token ids are not accepted)" })
  .min(1, "must not be empty")
  .max(MAX_TEXT_CHARS, `is longer than ${MAX_TEXT_CHARS.toLocaleString("en")} characters`);

const texts = z
  .array(text)
  .min(1, "must hold at least one text")
  .max(MAX_EMBEDDING_INPUTS, `holds more than ${MAX_EMBEDDING_INPUTS} texts`);

const embeddingsRequestSchema = z.object({
  model: z.string({ error: "must be a string: a model id from GET /v1/models" }).min(1, "must not be empty"),
  input: z.custom<string | string[]>((value) => value !== undefined, "is required"),
  encoding_format: z.enum(["float", "base64"], { error: 'must be "float" or "base64"' }).default("float"),
  dimensions: z
    .literal(EMBEDDING_DIMENSIONS, { error: `must be ${EMBEDDING_DIMENSIONS}, the model's only width` })
    .optional(),
  user: z.string({ error: "must be a string" }).optional(),
});

export interface EmbeddingsRequest {
  model: string;
  inputs: string[];
  encoding: EncodingFormat;
}

/** The first issue of a failed parse of `body` as an OpenAiError (400) naming its parameter. */
function invalid(issues: readonly z.core.$ZodIssue[], body: unknown): OpenAiError {
  const issue = issues[0] as z.core.$ZodIssue;
  const path = issue.path;
  const param =
    path.length > 0
      ? path
          .map((key) => (typeof key === "number" ? `[${key}]` : String(key)))
          .join(".")
          .replace(/\.\[/g, "[")
      : null;
  const missing =
    path.length === 1 && (body as Record<PropertyKey, unknown>)[path[0] as PropertyKey] === undefined;
  return new OpenAiError(
    400,
    missing ? `'${param}' is required` : `'${param ?? "body"}' ${issue.message}`,
    missing ? "missing_required_parameter" : "invalid_value",
    param,
  );
}

/** The body of POST /v1/embeddings, or an OpenAiError (400) naming the offending parameter. */
export function parseEmbeddingsRequest(body: Uint8Array): EmbeddingsRequest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    throw new OpenAiError(400, "request body is not valid JSON", "malformed_json");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new OpenAiError(400, "request body must be a JSON object", "invalid_request");
  }
  const parsed = embeddingsRequestSchema.safeParse(json);
  if (!parsed.success) throw invalid(parsed.error.issues, json);
  const { model, input, encoding_format } = parsed.data;
  const inputs = Array.isArray(input) ? texts.safeParse(input) : text.safeParse(input);
  if (!inputs.success) {
    const issues = inputs.error.issues.map((issue) => ({ ...issue, path: ["input", ...issue.path] }));
    throw invalid(issues, json);
  }
  const data = inputs.data;
  return { model, inputs: typeof data === "string" ? [data] : data, encoding: encoding_format };
}

/** The price of one request: the model's price per call, once per input row. */
export function embeddingsPrice(model: ServedModel, rows: number): bigint {
  return model.pricePerCall * BigInt(rows);
}

export interface BaseModelInfo {
  id: string;
  hash: Hex;
  /** Tokens a text is cut to (vLLM's max_model_len); absent for a base that reads no tokens. */
  maxTokens?: number;
}

/** What an adapter answers, once the runner has it loaded; unknown before (loading is paid work). */
export type AdapterTask = "embedding" | "classification" | "unknown";

export function adapterTask(labels: readonly string[] | undefined): AdapterTask {
  if (labels === undefined) return "unknown";
  return labels.length === 0 ? "embedding" : "classification";
}

/** `GET /v1/models`: OpenAI's model list, with vLLM's `parent` and `root` for LoRA adapters. */
export function modelList(
  base: BaseModelInfo,
  models: readonly ServedModel[],
  taskOf: (model: ServedModel) => AdapterTask,
  created: number,
) {
  return {
    object: "list",
    data: [
      baseCard(base, created),
      ...models.map((model) => adapterCard(base, model, taskOf(model), created)),
    ],
  };
}

export function baseCard(base: BaseModelInfo, created: number) {
  return {
    id: base.id,
    object: "model",
    created,
    owned_by: "openlora",
    root: base.hash,
    parent: null,
    ...(base.maxTokens ? { max_model_len: base.maxTokens } : {}),
  };
}

export function adapterCard(base: BaseModelInfo, model: ServedModel, task: AdapterTask, created: number) {
  return {
    id: model.modelId.toString(),
    object: "model",
    created,
    owned_by: "openlora",
    root: model.adapterHash,
    parent: base.id,
    ...(base.maxTokens ? { max_model_len: base.maxTokens } : {}),
    openlora: {
      modelId: model.modelId.toString(),
      adapterHash: model.adapterHash,
      pricePerInput: model.pricePerCall.toString(),
      status: model.status,
      task,
      metadataURI: model.metadataURI,
    },
  };
}

/** A vector as OpenAI's base64: its float32 values, little-endian, whatever this machine's order. */
export function float32Base64(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => {
    bytes.writeFloatLE(value, i * 4);
  });
  return bytes.toString("base64");
}

export interface EmbeddingRows {
  embeddings: number[][];
  /** Token ids each row was cut to, summed: what the model read. */
  promptTokens: number;
}

/** The answer of POST /v1/embeddings: deterministic bytes, since the receipt hashes them. */
export function renderEmbeddings(rows: EmbeddingRows, encoding: EncodingFormat, model: string): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      object: "list",
      data: rows.embeddings.map((embedding, index) => ({
        object: "embedding",
        index,
        embedding: encoding === "base64" ? float32Base64(embedding) : embedding,
      })),
      model,
      usage: { prompt_tokens: rows.promptTokens, total_tokens: rows.promptTokens },
    }),
  );
}

/**
 * What /v1/embeddings needs of the base, or null for a base that answers no embeddings (lande,
 * whose adapters all classify): its id, content hash and token limit, and each text's token count.
 */
export function embeddingBase(base: { id: string; hash: Hex } | undefined): EmbeddingBase | null {
  if (base?.id !== USE_LITE.id) return null;
  return {
    ...base,
    maxTokens: USE_LITE.maxTokens,
    tokens: (text) => useLiteBase().tokenizer.encode(text).length,
  };
}

export interface EmbeddingBase extends BaseModelInfo {
  tokens(text: string): number;
}

// The /v1 request parser, price and renderer; openai.anvil.test.ts runs them behind the real
// `openai` client against a runner on anvil.
import { describe, expect, it } from "vitest";
import type { ServedModel } from "./catalog";
import {
  embeddingsPrice,
  float32Base64,
  MAX_EMBEDDING_INPUTS,
  modelList,
  OpenAiError,
  parseEmbeddingsRequest,
  renderEmbeddings,
} from "./openai";

const parse = (body: unknown) =>
  parseEmbeddingsRequest(Buffer.from(typeof body === "string" ? body : JSON.stringify(body)));

function refusal(body: unknown): OpenAiError {
  try {
    parse(body);
  } catch (error) {
    expect(error).toBeInstanceOf(OpenAiError);
    return error as OpenAiError;
  }
  throw new Error("the request was accepted");
}

const model: ServedModel = {
  modelId: 7n,
  adapterHash: `0x${"ab".repeat(32)}`,
  pricePerCall: 1_500n,
  status: "active",
  metadataURI: "",
};

describe("POST /v1/embeddings requests", () => {
  it("takes a string or an array of strings, float by default", () => {
    expect(parse({ model: "7", input: "hello" })).toEqual({
      model: "7",
      inputs: ["hello"],
      encoding: "float",
    });
    expect(
      parse({ model: "7", input: ["a", "b"], encoding_format: "base64", dimensions: 512, user: "u" }),
    ).toEqual({ model: "7", inputs: ["a", "b"], encoding: "base64" });
  });

  it("names the parameter at fault, in OpenAI's codes", () => {
    const cases: [unknown, number, string | null, string][] = [
      ["{", 400, null, "malformed_json"],
      [[1], 400, null, "invalid_request"],
      [{ input: "x" }, 400, "model", "missing_required_parameter"],
      [{ model: "7" }, 400, "input", "missing_required_parameter"],
      [{ model: 7, input: "x" }, 400, "model", "invalid_value"],
      [{ model: "7", input: [] }, 400, "input", "invalid_value"],
      [{ model: "7", input: [[1, 2]] }, 400, "input[0]", "invalid_value"],
      [{ model: "7", input: null }, 400, "input", "invalid_value"],
      [{ model: "7", input: Array(MAX_EMBEDDING_INPUTS + 1).fill("a") }, 400, "input", "invalid_value"],
      [{ model: "7", input: "x", encoding_format: "int8" }, 400, "encoding_format", "invalid_value"],
      [{ model: "7", input: "x", dimensions: 64 }, 400, "dimensions", "invalid_value"],
    ];
    for (const [body, status, param, code] of cases) {
      const error = refusal(body);
      expect([error.status, error.param, error.code], JSON.stringify(body).slice(0, 60)).toEqual([
        status,
        param,
        code,
      ]);
    }
    expect(refusal({ model: "7", input: ["ok", 3] }).message).toBe(
      "'input[1]' must be a string (token ids are not accepted)",
    );
  });

  it("prices a request per input row", () => {
    expect(embeddingsPrice(model, 3)).toBe(4_500n);
  });
});

describe("/v1 answers", () => {
  it("encodes base64 as little-endian float32 and renders OpenAI's list", () => {
    const values = [0.5, -1.25, Math.fround(0.1)];
    const bytes = Buffer.from(float32Base64(values), "base64");
    expect([0, 4, 8].map((offset) => bytes.readFloatLE(offset))).toEqual(values);
    const rendered = JSON.parse(
      Buffer.from(renderEmbeddings({ embeddings: [values], promptTokens: 4 }, "float", "7")).toString(),
    );
    expect(rendered).toEqual({
      object: "list",
      data: [{ object: "embedding", index: 0, embedding: values }],
      model: "7",
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
  });

  it("lists adapters with the base as parent and their adapter hash as root", () => {
    const base = { id: "use-lite-en", hash: `0x${"cd".repeat(32)}` as const, maxTokens: 128 };
    const list = modelList(base, [model], () => "embedding", 1_700_000_000);
    expect(list.data.map(({ id, parent, root }) => ({ id, parent, root }))).toEqual([
      { id: "use-lite-en", parent: null, root: base.hash },
      { id: "7", parent: "use-lite-en", root: model.adapterHash },
    ]);
  });
});

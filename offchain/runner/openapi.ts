/** The OpenAPI document the runner serves at /openapi.json. */
export function openApiDocument(serverUrl: string) {
  const error = { $ref: "#/components/schemas/Error" };
  const openAiError = { $ref: "#/components/schemas/OpenAiError" };
  const json = (schema: unknown) => ({ "application/json": { schema } });
  return {
    openapi: "3.1.0",
    info: {
      title: "OpenLoRA runner",
      version: "1",
      description:
        "Open Inference Protocol (v2) endpoints for LoRA adapters on one base model, paid per call " +
        "with x402 v2 headers over OpenLoRA payment channels (scheme `openlora-channel`), and " +
        "OpenAI-compatible /v1/models and /v1/embeddings, paid the same way per input text.",
    },
    servers: [{ url: serverUrl }],
    paths: {
      "/v2": {
        get: { summary: "Server metadata", responses: { 200: { description: "name, version, extensions" } } },
      },
      "/v2/health/live": { get: { summary: "Liveness", responses: { 200: { description: "live" } } } },
      "/v2/health/ready": {
        get: {
          summary: "Readiness",
          responses: { 200: { description: "ready" }, 503: { description: "not ready" } },
        },
      },
      "/v2/models": {
        get: {
          summary: "Models served, with price and adapter hash",
          responses: { 200: { description: "list" } },
        },
      },
      "/v2/models/{modelId}": {
        get: {
          summary: "Model metadata (Open Inference Protocol), price and labels",
          parameters: [{ name: "modelId", in: "path", required: true, schema: { type: "string" } }],
          responses: {
            200: { description: "metadata" },
            404: { description: "unknown model", content: json(error) },
          },
        },
      },
      "/v2/models/{modelId}/ready": {
        get: {
          summary: "Whether the model can be served now",
          parameters: [{ name: "modelId", in: "path", required: true, schema: { type: "string" } }],
          responses: {
            200: { description: "ready" },
            503: { description: "paused, retired or adapter refused" },
          },
        },
      },
      "/v2/models/{modelId}/infer": {
        post: {
          summary: "Classify one text; paid per call",
          parameters: [
            { name: "modelId", in: "path", required: true, schema: { type: "string" } },
            {
              name: "PAYMENT-SIGNATURE",
              in: "header",
              schema: { type: "string" },
              description: "base64 PaymentPayload",
            },
            { name: "OPENLORA-CHANNEL", in: "header", schema: { type: "string" }, description: "channel id" },
          ],
          requestBody: { required: true, content: json({ $ref: "#/components/schemas/InferRequest" }) },
          responses: {
            200: {
              description:
                "the answer; PAYMENT-RESPONSE carries the runner-signed receipt (the same request with the same voucher again: the same answer and receipt, charged once)",
              content: json({ $ref: "#/components/schemas/InferResponse" }),
            },
            400: { description: "malformed JSON, input or payment header", content: json(error) },
            402: {
              description: "payment required or refused; PAYMENT-REQUIRED carries the terms",
              content: json(error),
            },
            404: { description: "unknown model", content: json(error) },
            409: {
              description: "a paid call asked for again whose answer the runner can no longer reproduce",
              content: json(error),
            },
            413: { description: "body too large", content: json(error) },
            503: { description: "busy, or the model is unavailable", content: json(error) },
          },
        },
      },
      "/v1/models": {
        get: {
          summary: "OpenAI-compatible: the base and every served adapter (vLLM's parent and root)",
          responses: { 200: { description: "OpenAI's model list" } },
        },
      },
      "/v1/models/{model}": {
        get: {
          summary: "OpenAI-compatible: one model card",
          parameters: [{ name: "model", in: "path", required: true, schema: { type: "string" } }],
          responses: {
            200: { description: "model card" },
            404: { description: "unknown model", content: json(openAiError) },
          },
        },
      },
      "/v1/embeddings": {
        post: {
          summary: "OpenAI-compatible: an embedding adapter's embeddings of one or more texts; paid per text",
          parameters: [
            {
              name: "PAYMENT-SIGNATURE",
              in: "header",
              schema: { type: "string" },
              description:
                "base64 PaymentPayload: one voucher of the adapter's price times the number of texts",
            },
            { name: "OPENLORA-CHANNEL", in: "header", schema: { type: "string" }, description: "channel id" },
          ],
          requestBody: { required: true, content: json({ $ref: "#/components/schemas/EmbeddingsRequest" }) },
          responses: {
            200: {
              description: "OpenAI's embedding list; PAYMENT-RESPONSE carries the runner-signed receipt",
              content: json({ $ref: "#/components/schemas/EmbeddingsResponse" }),
            },
            400: {
              description: "invalid request, the base model, or a classifier (docs/protocol/openai.md)",
              content: json(openAiError),
            },
            402: {
              description: "payment required or refused; PAYMENT-REQUIRED carries the terms",
              content: json(openAiError),
            },
            404: { description: "unknown model", content: json(openAiError) },
            409: {
              description: "a paid call asked for again whose answer the runner can no longer reproduce",
              content: json(openAiError),
            },
            413: { description: "body too large", content: json(openAiError) },
            503: { description: "busy, or the model is unavailable", content: json(openAiError) },
          },
        },
      },
      "/metrics": {
        get: { summary: "Prometheus metrics", responses: { 200: { description: "text exposition" } } },
      },
    },
    components: {
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: { error: { type: "string" }, reason: { type: "string" }, details: { type: "object" } },
        },
        OpenAiError: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              properties: {
                message: { type: "string" },
                type: { type: "string" },
                param: { type: ["string", "null"] },
                code: { type: ["string", "null"] },
              },
            },
          },
        },
        EmbeddingsRequest: {
          type: "object",
          required: ["model", "input"],
          properties: {
            model: { type: "string", description: "an adapter's on-chain model id" },
            input: {
              oneOf: [
                { type: "string", minLength: 1, maxLength: 10_000 },
                {
                  type: "array",
                  minItems: 1,
                  maxItems: 256,
                  items: { type: "string", minLength: 1, maxLength: 10_000 },
                },
              ],
            },
            encoding_format: { enum: ["float", "base64"], default: "float" },
            dimensions: { const: 512 },
            user: { type: "string" },
          },
        },
        EmbeddingsResponse: {
          type: "object",
          properties: {
            object: { const: "list" },
            data: { type: "array", items: { type: "object" } },
            model: { type: "string" },
            usage: { type: "object" },
          },
        },
        InferRequest: {
          type: "object",
          required: ["inputs"],
          properties: {
            id: { type: "string" },
            inputs: {
              type: "array",
              minItems: 1,
              maxItems: 1,
              items: {
                type: "object",
                required: ["name", "datatype", "shape", "data"],
                properties: {
                  name: { const: "text" },
                  datatype: { const: "BYTES" },
                  shape: { const: [1] },
                  data: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 1 },
                },
              },
            },
          },
        },
        InferResponse: {
          type: "object",
          properties: {
            model_name: { type: "string" },
            model_version: { type: "string", description: "the adapter hash" },
            id: { type: "string", description: "the request hash" },
            outputs: { type: "array", items: { type: "object" } },
            parameters: { type: "object" },
          },
        },
      },
    },
  };
}

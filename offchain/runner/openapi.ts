/** The OpenAPI document the runner serves at /openapi.json. */
export function openApiDocument(serverUrl: string) {
  const error = { $ref: "#/components/schemas/Error" };
  const json = (schema: unknown) => ({ "application/json": { schema } });
  return {
    openapi: "3.1.0",
    info: {
      title: "OpenLoRA runner",
      version: "1",
      description:
        "Open Inference Protocol (v2) endpoints for LoRA adapters on one base model, paid per call " +
        "with x402 v2 headers over OpenLoRA payment channels (scheme `openlora-channel`).",
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

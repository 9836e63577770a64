/**
 * The runner's HTTP API: Open Inference Protocol (v2) routes, paid per call with the x402 v2
 * flow (docs/protocol/http-402.md), OpenAI-compatible /v1 routes (openai.ts,
 * docs/protocol/openai.md) paid the same way, plus /openapi.json and /metrics. Every error is
 * JSON `{ error, reason?, details? }` (under /v1, OpenAI's `{ error: { message, type, param,
 * code } }`) with a status that says whose fault it was.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Hex } from "viem";
import { z } from "zod";
import {
  decodePaymentPayload,
  encodeHeader,
  HEADERS,
  type LaneView,
  PaymentHeaderError,
  paymentRefusal,
  X402_VERSION,
} from "../../sdk/protocol/x402";
import { keccak256Hex } from "../crypto/keccak";
import { requestHashNative } from "../payments/nativeHashes";
import { PaymentRefusedError } from "../payments/paymentGate";
import { SignatureThreadError } from "../payments/signatureThread";
import { CacheFullError, ModelRefusedError } from "./adapterCache";
import type { ModelCatalog, ServedModel } from "./catalog";
import { ChainUnavailableError } from "./chain";
import { InferenceThreadError } from "./executor/useLiteThread";
import { type InferenceAnswer, isEmbedding } from "./inference";
import { JournalWriteError } from "./journal";
import type { RunnerMetrics } from "./metrics";
import {
  adapterCard,
  adapterTask,
  baseCard,
  type EmbeddingBase,
  type EmbeddingRows,
  embeddingBase,
  embeddingsPrice,
  modelList,
  OpenAiError,
  openAiErrorBody,
  parseEmbeddingsRequest,
  renderEmbeddings,
} from "./openai";
import { openApiDocument } from "./openapi";
import {
  AnswerNotReproducibleError,
  type Compute,
  type PaidAnswer,
  type PaidCallContext,
  paymentTerms,
  type Render,
  runPaidCall,
} from "./paidCall";
import { QueueFullError } from "./scheduler";

export interface HttpOptions {
  host?: string;
  port?: number;
  maxBodyBytes?: number;
  /** Serve without payment. Only the HTTP benchmark uses it, as the baseline of paid serving. */
  freeOfCharge?: boolean;
}

export interface RunnerHttpContext extends PaidCallContext {
  catalog: ModelCatalog;
  /** The base model served (its id and content hash): /v1 lists it and names it each adapter's parent. */
  base?: { id: string; hash: Hex };
  metrics: RunnerMetrics;
  log: Logger;
  ready(): boolean;
  /** Settles what was served now (POST /v2/settlement, loopback callers only). */
  settleNow?(): Promise<unknown[]>;
  /** The Merkle proof of a settled receipt (GET /v2/receipts/{requestHash}/proof). */
  proof?(requestHash: Hex): Promise<unknown | null>;
  /**
   * Extra routes (the dashboard): return true when the request was handled. Called before the
   * runner's own routes return 404.
   */
  extraRoutes?(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>;
  /** Told of every paid call once it is answered (the dashboard listens). */
  onPaidCall?(model: ServedModel, answer: PaidAnswer, latencyMs: number): void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string,
    readonly details?: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const inferRequestSchema = z.object({
  id: z.string().optional(),
  inputs: z
    .array(
      z.object({
        name: z.literal("text"),
        datatype: z.literal("BYTES"),
        shape: z.tuple([z.literal(1)]),
        data: z.tuple([
          z.string().min(1, "text must not be empty").max(10_000, "text is longer than 10,000 characters"),
        ]),
      }),
    )
    .length(1, "exactly one input named text (one text per paid call)"),
});

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const bytes = Buffer.from(JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
  res.writeHead(status, { "content-type": "application/json", "content-length": bytes.length, ...headers });
  res.end(bytes);
}

/** The client hung up before its request was read: nothing to answer, and not the runner's doing. */
class ClientGoneError extends Error {
  constructor() {
    super("the client closed the connection before its request was read");
    this.name = "ClientGoneError";
  }
}

/** How much of a refused body is read and dropped, so that the client reads the 413 before the close. */
const DISCARD_BYTES = 1024 * 1024;
const DISCARD_MS = 2_000;

function bodyTooLarge(limit: number): HttpError {
  return new HttpError(413, `request body is larger than ${limit} bytes`, "body_too_large", undefined, {
    connection: "close",
  });
}

/**
 * Drops the rest of a refused body while the 413 is written. Closing at once would lose the
 * answer: a socket closed with unread data sends a reset, and the client sees only that. A
 * client that goes on sending past DISCARD_BYTES or DISCARD_MS is cut off.
 */
function discardRest(req: IncomingMessage): void {
  let dropped = 0;
  const cutOff = () => req.socket.destroy();
  const timer = setTimeout(cutOff, DISCARD_MS);
  timer.unref();
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DISCARD_BYTES) cutOff();
  });
  req.once("close", () => clearTimeout(timer));
  req.resume();
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"] ?? 0) > limit) {
      discardRest(req);
      reject(bodyTooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Chunked bodies declare no length: they are refused once they outgrow the limit.
        req.off("data", onData);
        discardRest(req);
        reject(bodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks)));
    // An abandoned upload ("aborted"), or a body Node could not parse (it answers that itself).
    req.on("error", () => reject(new ClientGoneError()));
    req.on("close", () => {
      if (!req.complete) reject(new ClientGoneError());
    });
  });
}

function parseInfer(body: Buffer): string {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "request body is not valid JSON", "malformed_json");
  }
  const parsed = inferRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`);
    throw new HttpError(400, `invalid inference request: ${issues.join("; ")}`, "invalid_request", {
      issues,
    });
  }
  return parsed.data.inputs[0]?.data[0] as string;
}

/** Open Inference Protocol outputs: label and scores for a classifier, the vector for an embedding. */
function answerOutputs(result: InferenceAnswer) {
  if (isEmbedding(result)) {
    const { embedding } = result;
    return {
      outputs: [{ name: "embedding", datatype: "FP32", shape: [1, embedding.length], data: embedding }],
      parameters: { dimensions: embedding.length },
    };
  }
  return {
    outputs: [
      { name: "label", datatype: "BYTES", shape: [1], data: [result.label] },
      { name: "scores", datatype: "FP32", shape: [1, result.scores.length], data: result.scores },
    ],
    parameters: { labels: result.labels },
  };
}

/** A paid call as the 402 flow runs it: /v2's one text, or /v1/embeddings' rows. */
interface Charge<R> {
  /** The model as it is charged: its price is this request's (per row on /v1/embeddings). */
  model: ServedModel;
  /** The model as registered, for the dashboard. */
  served: ServedModel;
  body: Uint8Array;
  resourcePath: string;
  compute: Compute<R>;
  render: Render<R>;
  started: number;
}

function renderAnswer(result: InferenceAnswer, requestHash: string, model: ServedModel): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      model_name: model.modelId.toString(),
      model_version: model.adapterHash,
      id: requestHash,
      ...answerOutputs(result),
    }),
  );
}

export class RunnerHttpServer {
  private server: Server | null = null;

  constructor(
    private readonly ctx: RunnerHttpContext,
    private readonly options: HttpOptions = {},
  ) {}

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error) => this.fail(res, error, isOpenAiPath(req.url)));
    });
    this.server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      this.server?.once("error", reject);
      this.server?.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1", resolve);
    });
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error("the runner is not listening");
    return `http://${address.address}:${address.port}`;
  }

  /** Stops accepting connections and waits for requests in flight to finish. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    this.server = null;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = requestPath(req.url).replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    if (method === "GET") {
      if (path === "/v2")
        return sendJson(res, 200, { name: "openlora-runner", version: "1", extensions: ["x402"] });
      if (path === "/v2/health/live") return sendJson(res, 200, { live: true });
      if (path === "/v2/health/ready")
        return sendJson(res, this.ctx.ready() ? 200 : 503, { ready: this.ctx.ready() });
      if (path === "/v2/models")
        return sendJson(res, 200, { models: (await this.ctx.catalog.models()).map(describe) });
      if (path === "/openapi.json") return sendJson(res, 200, openApiDocument(this.url));
      if (path === "/metrics") return this.sendMetrics(res);
      const proofMatch = /^\/v2\/receipts\/(0x[0-9a-fA-F]{64})\/proof$/.exec(path);
      if (proofMatch && this.ctx.proof) {
        const proof = await this.ctx.proof(proofMatch[1] as Hex);
        if (!proof) throw new HttpError(404, "no settled batch holds this receipt (yet)", "not_settled");
        return sendJson(res, 200, proof);
      }
    }
    if (method === "POST" && path === "/v2/settlement" && this.ctx.settleNow) {
      if (!isLoopback(req))
        throw new HttpError(403, "settlement can only be triggered from this machine", "forbidden");
      const batches = await this.ctx.settleNow();
      return sendJson(res, 200, { batches });
    }
    if (path === "/v1" || path.startsWith("/v1/")) return this.openAiRoute(req, res, method, path);
    const match = /^\/v2\/models\/([^/]+)(\/ready|\/infer)?$/.exec(path);
    if (match) {
      const model = await this.model(match[1] as string);
      if (method === "GET" && !match[2]) return sendJson(res, 200, this.metadata(model));
      if (method === "GET" && match[2] === "/ready") {
        const ready = this.unavailability(model) === null;
        return sendJson(res, ready ? 200 : 503, { name: model.modelId.toString(), ready });
      }
      if (method === "POST" && match[2] === "/infer") return this.infer(req, res, model);
    }
    if (this.ctx.extraRoutes && (await this.ctx.extraRoutes(req, res, path))) return;
    throw new HttpError(404, `no route for ${method} ${path}`, "not_found");
  }

  private async model(id: string): Promise<ServedModel> {
    // Model ids are uint256: a larger number names no model, and must not reach a chain read.
    const modelId = parseUint256(id);
    if (modelId === null) throw new HttpError(404, `unknown model ${id}`, "unknown_model");
    const model = await this.ctx.catalog.model(modelId);
    if (!model) throw new HttpError(404, `unknown model ${id}`, "unknown_model");
    return model;
  }

  private unavailability(model: ServedModel): string | null {
    if (model.status !== "active") return `model ${model.modelId} is ${model.status}`;
    const refusal = this.ctx.inference.refusal(model.modelId);
    return refusal ? `model ${model.modelId} is refused: ${refusal.message}` : null;
  }

  private metadata(model: ServedModel) {
    return {
      name: model.modelId.toString(),
      versions: [model.adapterHash],
      platform: "onnxruntime",
      inputs: [{ name: "text", datatype: "BYTES", shape: [1] }],
      outputs:
        this.ctx.inference.labels(model.modelId, model.adapterHash)?.length === 0
          ? [{ name: "embedding", datatype: "FP32", shape: [1, -1] }]
          : [
              { name: "label", datatype: "BYTES", shape: [1] },
              { name: "scores", datatype: "FP32", shape: [1, -1] },
            ],
      parameters: describe(model),
    };
  }

  private async infer(req: IncomingMessage, res: ServerResponse, model: ServedModel): Promise<void> {
    const started = performance.now();
    const body = await readBody(req, this.options.maxBodyBytes ?? 64 * 1024);
    const text = parseInfer(body);
    const unavailable = this.unavailability(model);
    if (unavailable) throw new HttpError(503, unavailable, "model_unavailable");
    return this.charge(req, res, {
      model,
      served: model,
      body,
      resourcePath: `/v2/models/${model.modelId}/infer`,
      compute: (adapterHash) => this.ctx.inference.infer(model.modelId, adapterHash, text),
      render: renderAnswer,
      started,
    });
  }

  /**
   * The 402 flow (docs/protocol/http-402.md) around a call: no PAYMENT-SIGNATURE, a 402 with the
   * terms; a voucher, the paid call (paidCall.ts) and its answer with the receipt; a refused one,
   * a 402 with the refusal and the lane.
   */
  private async charge<R>(req: IncomingMessage, res: ServerResponse, call: Charge<R>): Promise<void> {
    const { model, body } = call;
    const label = { model: model.modelId.toString() };
    if (this.options.freeOfCharge) return this.serveFree(res, call, label);
    const rawPayment = req.headers[HEADERS.signature];
    if (typeof rawPayment !== "string") {
      this.ctx.metrics.requests.inc({ ...label, outcome: "payment_required" });
      const channel = channelHeader(req);
      // Offer the lane as the chain has it; with the chain down, offer what the journal knows.
      if (channel !== null) await this.ctx.gate.syncLaneWithChain(channel, model.modelId).catch(() => {});
      throw this.paymentRequired({ call, channel, message: "PAYMENT-SIGNATURE header is required" });
    }
    let payment: ReturnType<typeof decodePaymentPayload>;
    try {
      payment = decodePaymentPayload(rawPayment);
    } catch (error) {
      if (error instanceof PaymentHeaderError) throw new HttpError(400, error.message, "payment_malformed");
      throw error;
    }
    try {
      const answer = await runPaidCall(this.ctx, model, payment, body, call.compute, call.render);
      const latency = performance.now() - call.started;
      if (answer.redelivered) {
        this.ctx.metrics.requests.inc({ ...label, outcome: "redelivered" });
      } else {
        this.ctx.metrics.vouchers.inc({ ...label, result: "accepted" });
        this.ctx.metrics.revenue.inc(label, Number(answer.price));
        this.ctx.metrics.requests.inc({ ...label, outcome: "paid" });
        this.ctx.metrics.latency.observe(label, latency / 1000);
      }
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": answer.body.length,
        [HEADERS.response]: answer.paymentResponseHeader,
      });
      res.end(answer.body);
      if (!answer.redelivered) this.ctx.onPaidCall?.(call.served, answer, latency);
    } catch (error) {
      if (error instanceof PaymentRefusedError) {
        this.ctx.metrics.vouchers.inc({ ...label, result: error.reason });
        this.ctx.metrics.requests.inc({ ...label, outcome: "refused" });
        // The voucher names its lane: a client that sent no channel header is offered it too.
        throw this.paymentRequired({
          call,
          channel: payment.payload.voucher.channelId,
          message: error.message,
          refusal: { reason: error.reason, details: error.details },
        });
      }
      throw error;
    }
  }

  /** Serving without payment: only for measuring what payment costs (bench:http). */
  private async serveFree<R>(res: ServerResponse, call: Charge<R>, label: { model: string }) {
    const result = await call.compute(call.model.adapterHash);
    const body = call.render(result, "" as Hex, call.model);
    this.ctx.metrics.requests.inc({ ...label, outcome: "free" });
    this.ctx.metrics.latency.observe(label, (performance.now() - call.started) / 1000);
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  }

  /** /v1: OpenAI-compatible routes (openai.ts). */
  private async openAiRoute(req: IncomingMessage, res: ServerResponse, method: string, path: string) {
    const base = this.ctx.base;
    if (method === "GET" && path === "/v1/models" && base) {
      const models = await this.ctx.catalog.models();
      return sendJson(
        res,
        200,
        modelList(this.baseInfo(base), models, (m) => this.taskOf(m), nowSeconds()),
      );
    }
    const card = /^\/v1\/models\/([^/]+)$/.exec(path);
    if (method === "GET" && card && base) {
      const id = card[1] as string;
      if (id === base.id) return sendJson(res, 200, baseCard(this.baseInfo(base), nowSeconds()));
      const model = await this.openAiModel(id);
      return sendJson(res, 200, adapterCard(this.baseInfo(base), model, this.taskOf(model), nowSeconds()));
    }
    if (method === "POST" && path === "/v1/embeddings") return this.embeddings(req, res);
    throw new OpenAiError(404, `no route for ${method} ${path}`, "not_found");
  }

  private baseInfo(base: { id: string; hash: Hex }) {
    return embeddingBase(base) ?? base;
  }

  private taskOf(model: ServedModel) {
    return adapterTask(this.ctx.inference.labels(model.modelId, model.adapterHash));
  }

  /** An adapter by its /v1 id, the on-chain model id as a decimal string. */
  private async openAiModel(id: string): Promise<ServedModel> {
    const modelId = parseUint256(id);
    const model = modelId === null ? null : await this.ctx.catalog.model(modelId);
    if (!model) {
      throw new OpenAiError(
        404,
        `The model '${id}' does not exist or is not served here (GET /v1/models lists them)`,
        "model_not_found",
        "model",
      );
    }
    return model;
  }

  /**
   * POST /v1/embeddings: an embedding adapter's embeddings of every input text, paid with one
   * voucher of the adapter's price times the number of texts. The base is listed but not sold
   * (it has no on-chain price or lane); a classifier answers on /v2/models/{id}/infer.
   */
  private async embeddings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const body = await readBody(req, this.options.maxBodyBytes ?? 64 * 1024);
    const request = parseEmbeddingsRequest(body);
    const base = embeddingBase(this.ctx.base);
    if (request.model === this.ctx.base?.id) {
      throw new OpenAiError(
        400,
        `'${request.model}' is the base model: it has no on-chain price, so this runner does not sell its embeddings; name one of its embedding adapters (GET /v1/models)`,
        "base_model_not_sold",
        "model",
      );
    }
    const model = await this.openAiModel(request.model);
    if (!base) throw notAnEmbedding(model, `the base model ${this.ctx.base?.id ?? ""} answers no embeddings`);
    const unavailable = this.unavailability(model);
    if (unavailable) throw new HttpError(503, unavailable, "model_unavailable");
    if (this.taskOf(model) === "classification") throw notAnEmbedding(model, "it is a classifier");
    const modelId = model.modelId.toString();
    return this.charge(req, res, {
      model: { ...model, pricePerCall: embeddingsPrice(model, request.inputs.length) },
      served: model,
      body,
      resourcePath: "/v1/embeddings",
      compute: (adapterHash) => this.embedRows(model, adapterHash, request.inputs, base),
      render: (rows) => renderEmbeddings(rows, request.encoding, modelId),
      started,
    });
  }

  /**
   * Every row's embedding, the rows queued together (the scheduler batches them with whatever
   * else waits). A classifier's answer (its adapter was not loaded when the request was checked)
   * throws, so that the call is rolled back, not charged.
   */
  private async embedRows(
    model: ServedModel,
    adapterHash: Hex,
    inputs: readonly string[],
    base: EmbeddingBase,
  ): Promise<EmbeddingRows> {
    const answers = await Promise.all(
      inputs.map((text) => this.ctx.inference.infer(model.modelId, adapterHash, text)),
    );
    const embeddings = answers.map((answer) => {
      if (!isEmbedding(answer)) throw notAnEmbedding(model, "it is a classifier");
      return answer.embedding;
    });
    const promptTokens = inputs.reduce((sum, text) => sum + base.tokens(text), 0);
    return { embeddings, promptTokens };
  }

  /**
   * A 402 with the terms, for the body just received: its hash, and, when the request names its
   * channel (the OPENLORA-CHANNEL header, or a refused voucher's channel), that lane's state and
   * the request hash of this body at its next call index. A refusal also gets a PAYMENT-RESPONSE
   * with the reason and the same lane state.
   */
  private paymentRequired<R>(offer: {
    call: Charge<R>;
    channel: bigint | null;
    message: string;
    refusal?: { reason: string; details?: Record<string, unknown> };
  }): HttpError {
    const { channel, message, refusal } = offer;
    const { model, body } = offer.call;
    const terms = paymentTerms({ ...this.ctx, runner: this.ctx.signer.address }, model);
    terms.extra.bodyHash = keccak256Hex(body);
    const lane = channel === null ? undefined : this.laneView(channel, model.modelId, body);
    if (lane) terms.extra.lane = lane;
    const required = {
      x402Version: X402_VERSION,
      error: message,
      resource: {
        url: `${this.url}${offer.call.resourcePath}`,
        description: `model ${model.modelId}`,
        mimeType: "application/json",
      },
      accepts: [terms],
    };
    const headers: Record<string, string> = { [HEADERS.required]: encodeHeader(required) };
    if (refusal) {
      headers[HEADERS.response] = encodeHeader(
        paymentRefusal({ network: terms.network, errorReason: refusal.reason, lane }),
      );
    }
    return new HttpError(402, message, refusal?.reason ?? "payment_required", refusal?.details, headers);
  }

  /** A lane's state as offered to its consumer; none for a lane taken from the chain (no transcript). */
  private laneView(channelId: bigint, modelId: bigint, body: Uint8Array): LaneView | undefined {
    const lane = this.ctx.gate.lane(channelId, modelId);
    if (lane.transcriptHash === null) return undefined; // the consumer keeps its own transcript
    return {
      channelId,
      cumulativeAmount: lane.cumulativeAmount,
      cumulativeCalls: lane.cumulativeCalls,
      transcriptHash: lane.transcriptHash,
      ...(lane.signature ? { signature: lane.signature } : {}),
      nextRequestHash: requestHashNative(channelId, modelId, lane.cumulativeCalls + 1n, body),
    };
  }

  private async sendMetrics(res: ServerResponse) {
    const text = await this.ctx.metrics.registry.metrics();
    res.writeHead(200, { "content-type": this.ctx.metrics.registry.contentType });
    res.end(text);
  }

  /** Answers an error: `{ error, reason?, details? }`, or OpenAI's shape under /v1. */
  private fail(res: ServerResponse, error: unknown, openAi: boolean) {
    const sendError = (status: number, body: ErrorBody, headers: Record<string, string> = {}) =>
      sendJson(res, status, openAi ? openAiShaped(status, body) : body, headers);
    if (error instanceof ClientGoneError) {
      this.ctx.log.debug({ err: error }, "request abandoned by the client");
      res.destroy();
      return;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof OpenAiError) {
      return sendJson(
        res,
        error.status,
        openAiErrorBody(error.status, error.message, error.code, error.param),
      );
    }
    if (error instanceof HttpError) {
      const body = {
        error: error.message,
        ...(error.reason ? { reason: error.reason } : {}),
        details: error.details,
      };
      return sendError(error.status, body, error.headers);
    }
    if (error instanceof AnswerNotReproducibleError) {
      // Not a 5xx: trying again cannot help, and the consumer holds what it needs to say so
      // (its voucher and the signed receipt journaled for it, which the runner settles).
      this.ctx.log.error({ err: error, ...error.details }, "a paid answer could not be given again");
      return sendError(409, {
        error: error.message,
        reason: "answer_not_reproducible",
        details: error.details,
      });
    }
    if (error instanceof ModelRefusedError) {
      return sendError(503, { error: error.message, reason: "model_unavailable" });
    }
    if (error instanceof QueueFullError || error instanceof CacheFullError) {
      return sendError(503, { error: error.message, reason: "busy" }, { "retry-after": "1" });
    }
    if (error instanceof SignatureThreadError) {
      this.ctx.log.error({ err: error }, "signature thread failed; the call was not charged");
      const body = { error: "the runner cannot check payments right now", reason: "busy" };
      return sendError(503, body, { "retry-after": "1" });
    }
    if (error instanceof InferenceThreadError) {
      this.ctx.log.error({ err: error }, "inference thread failed; the call was not charged");
      const body = { error: "the runner's inference thread failed; retry", reason: "busy" };
      return sendError(503, body, { "retry-after": "1" });
    }
    if (error instanceof ChainUnavailableError) {
      this.ctx.log.warn({ err: error }, "chain unreachable; the call was not charged");
      return sendError(503, { error: error.message, reason: "chain_unavailable" }, { "retry-after": "5" });
    }
    if (error instanceof JournalWriteError) {
      this.ctx.log.error({ err: error }, "receipt journal write failed; refusing paid calls");
      return sendError(503, {
        error: "the runner cannot record receipts right now",
        reason: "journal_unavailable",
      });
    }
    this.ctx.log.error({ err: error }, "unexpected error");
    return sendError(500, { error: "internal error" });
  }
}

interface ErrorBody {
  error: string;
  reason?: string;
  details?: Record<string, unknown>;
}

/** An error in OpenAI's shape: the reason is its `code`; details stay beside it. */
function openAiShaped(status: number, body: ErrorBody) {
  const shaped = openAiErrorBody(status, body.error, body.reason ?? null, null);
  return body.details ? { error: { ...shaped.error, details: body.details } } : shaped;
}

function isOpenAiPath(target = "/"): boolean {
  return /^(https?:\/\/[^/]*)?\/v1(\/|$|\?|#)/.test(target);
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A model that answers no embedding named on /v1/embeddings. */
function notAnEmbedding(model: ServedModel, why: string): OpenAiError {
  return new OpenAiError(
    400,
    `model ${model.modelId} answers no embeddings (${why}): classify with POST /v2/models/${model.modelId}/infer`,
    "model_not_embedding",
    "model",
  );
}

/** The channel a consumer names in its request (to be offered its lane's state), or null. */
function channelHeader(req: IncomingMessage): bigint | null {
  const channel = req.headers[HEADERS.channel];
  return typeof channel === "string" ? parseUint256(channel) : null;
}

const UINT256_LIMIT = 1n << 256n;

/** A decimal uint256, or null. */
function parseUint256(text: string): bigint | null {
  if (!/^\d{1,78}$/.test(text)) return null;
  const value = BigInt(text);
  return value < UINT256_LIMIT ? value : null;
}

/**
 * The path a request names. An origin-form target ("/v2/models") is taken as it is: parsing it
 * as a URL would read "//x:99999/" as a host and a bad port, and throw. An absolute-form target
 * ("http://host/v2/models", which HTTP/1.1 servers must accept) is parsed.
 */
function requestPath(target = "/"): string {
  if (target.startsWith("/")) return target.split(/[?#]/, 1)[0] as string;
  try {
    return new URL(target).pathname;
  } catch {
    throw new HttpError(400, "the request target is neither a path nor a URL", "bad_request");
  }
}

function isLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? "";
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

function describe(model: ServedModel) {
  return {
    modelId: model.modelId,
    adapterHash: model.adapterHash,
    pricePerCall: model.pricePerCall,
    status: model.status,
    metadataURI: model.metadataURI,
  };
}

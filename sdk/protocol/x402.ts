/**
 * The x402 v2 headers of the `openlora-channel` scheme (docs/protocol/http-402.md): encoding
 * for both sides, and validating decoders that turn a malformed header into a clear error.
 */
import type { Address, Hex } from "viem";
import { z } from "zod";
import type { Receipt, Voucher } from "./typedData";

export const X402_VERSION = 2;
export const SCHEME = "openlora-channel";
export const HEADERS = {
  required: "payment-required",
  signature: "payment-signature",
  response: "payment-response",
  channel: "openlora-channel",
} as const;

/** A decimal uint256: at most 78 digits, and at most 2^256 - 1 (isUint256). */
const UINT = /^\d{1,78}$/;
const MAX_UINT256 = (1n << 256n) - 1n;
const HEX32 = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;
const NETWORK = /^eip155:\d+$/;

const uint = z
  .string()
  .regex(UINT, "must be a decimal integer string")
  .refine(isUint256, "must fit in uint256")
  .transform(BigInt);
const hex32 = z.string().regex(HEX32, "must be 32 bytes of hex") as z.ZodType<Hex>;
const address = z.string().regex(ADDRESS, "must be an address") as z.ZodType<Address>;
const signature = z.string().regex(SIGNATURE, "must be a 65-byte signature") as z.ZodType<Hex>;

const laneSchema = z.object({
  channelId: uint,
  cumulativeAmount: uint,
  cumulativeCalls: uint,
  transcriptHash: hex32,
  signature: signature.optional(),
  /** The request hash of the body the runner answered 402 to, at call cumulativeCalls + 1. */
  nextRequestHash: hex32.optional(),
});

const acceptsSchema = z.object({
  scheme: z.literal(SCHEME),
  network: z.string().regex(NETWORK),
  amount: uint,
  asset: address,
  payTo: address,
  maxTimeoutSeconds: z.number().int().positive(),
  extra: z.object({
    paymentChannels: address,
    settlement: address,
    modelId: uint,
    adapterHash: hex32,
    /** keccak256 of the body the runner answered 402 to: a client hashes it into any call index. */
    bodyHash: hex32.optional(),
    lane: laneSchema.optional(),
  }),
});

const resourceSchema = z.object({ url: z.string(), description: z.string(), mimeType: z.string() });

const paymentRequiredSchema = z.object({
  x402Version: z.literal(X402_VERSION),
  error: z.string().optional(),
  resource: resourceSchema,
  accepts: z.array(acceptsSchema).min(1),
});

const voucherSchema = z.object({
  channelId: uint,
  modelId: uint,
  cumulativeAmount: uint,
  cumulativeCalls: uint,
  transcriptHash: hex32,
});

export const paymentPayloadSchema = z.object({
  x402Version: z.literal(X402_VERSION),
  resource: resourceSchema.optional(),
  accepted: acceptsSchema,
  payload: z.object({ voucher: voucherSchema, requestHash: hex32, signature }),
});

const receiptSchema = z.object({
  requestHash: hex32,
  modelId: uint,
  adapterHash: hex32,
  outputHash: hex32,
  channelId: uint,
  callIndex: uint,
});

/** The scheme's own fields of a PAYMENT-RESPONSE, under the spec's `extra`. */
const responseExtraSchema = z.object({
  receipt: receiptSchema.optional(),
  receiptSignature: signature.optional(),
  runner: address.optional(),
  /** "deferred": the call is paid in a later batch settlement; `transaction` is empty until then. */
  settlement: z.literal("deferred").optional(),
  /** On a refusal: the runner's state of the voucher's lane, to resume from. */
  lane: laneSchema.optional(),
});

const paymentResponseSchema = z.object({
  success: z.boolean(),
  errorReason: z.string().optional(),
  errorMessage: z.string().optional(),
  /** The settlement transaction's hash (x402): empty, since ours is settled later in a batch. */
  transaction: z.string(),
  network: z.string(),
  payer: address.optional(),
  extra: responseExtraSchema.optional(),
});

export type PaymentTerms = z.output<typeof acceptsSchema>;
export type PaymentRequired = z.output<typeof paymentRequiredSchema>;
export type PaymentPayload = z.output<typeof paymentPayloadSchema>;
export type PaymentResponse = z.output<typeof paymentResponseSchema>;
export type LaneView = z.output<typeof laneSchema>;
export type PaidReceiptFields = z.output<typeof responseExtraSchema>;

export class PaymentHeaderError extends Error {
  constructor(
    readonly header: string,
    readonly issues: string[],
  ) {
    super(`malformed ${header.toUpperCase()} header: ${issues.join("; ")}`);
    this.name = "PaymentHeaderError";
  }
}

/** JSON with bigints as decimal strings, then base64. */
export function encodeHeader(value: unknown): string {
  const json = JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v));
  return Buffer.from(json).toString("base64");
}

/** The JSON inside a header's base64; throws PaymentHeaderError when it is missing or is not that. */
function headerJson(header: string, raw: string | null | undefined): unknown {
  if (!raw) throw new PaymentHeaderError(header, ["the header is missing"]);
  try {
    return JSON.parse(Buffer.from(raw, "base64").toString("utf8"));
  } catch {
    throw new PaymentHeaderError(header, ["not base64-encoded JSON"]);
  }
}

/** The schema's output for a header's JSON, or PaymentHeaderError naming every issue. */
function validated<T extends z.ZodType>(header: string, schema: T, json: unknown): z.output<T> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new PaymentHeaderError(
      header,
      parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
    );
  }
  return parsed.data;
}

export const decodePaymentRequired = (raw: string | null | undefined): PaymentRequired =>
  validated(HEADERS.required, paymentRequiredSchema, headerJson(HEADERS.required, raw));

/**
 * Decodes a PAYMENT-SIGNATURE header. A runner decodes one per paid call, so a well-formed
 * payment is checked by quickPaymentPayload, which allocates a fraction of what the schema's
 * parse does; anything it does not take goes to the schema, which decides and explains.
 */
export function decodePaymentPayload(raw: string | null | undefined): PaymentPayload {
  const json = headerJson(HEADERS.signature, raw);
  return quickPaymentPayload(json) ?? validated(HEADERS.signature, paymentPayloadSchema, json);
}

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const matches = (value: unknown, pattern: RegExp): value is string =>
  typeof value === "string" && pattern.test(value);

/**
 * paymentPayloadSchema's verdict and output for a payment it accepts, by hand; null for anything
 * else, including what the schema would accept in a form this does not bother with (the caller
 * then asks the schema). A differential test holds the two equal (x402.test.ts).
 */
export function quickPaymentPayload(json: unknown): PaymentPayload | null {
  if (!isObject(json) || json.x402Version !== X402_VERSION) return null;
  const { accepted: a, payload: p, resource: r } = json;
  if (!isObject(a) || !isObject(p)) return null;
  const { extra: e } = a;
  const { voucher: v } = p;
  if (!isObject(e) || !isObject(v)) return null;
  if (
    a.scheme !== SCHEME ||
    !matches(a.network, NETWORK) ||
    !isUint256(a.amount) ||
    !matches(a.asset, ADDRESS) ||
    !matches(a.payTo, ADDRESS) ||
    !Number.isSafeInteger(a.maxTimeoutSeconds) ||
    (a.maxTimeoutSeconds as number) <= 0 ||
    !matches(e.paymentChannels, ADDRESS) ||
    !matches(e.settlement, ADDRESS) ||
    !isUint256(e.modelId) ||
    !matches(e.adapterHash, HEX32) ||
    (e.bodyHash !== undefined && !matches(e.bodyHash, HEX32)) ||
    !isUint256(v.channelId) ||
    !isUint256(v.modelId) ||
    !isUint256(v.cumulativeAmount) ||
    !isUint256(v.cumulativeCalls) ||
    !matches(v.transcriptHash, HEX32) ||
    !matches(p.requestHash, HEX32) ||
    !matches(p.signature, SIGNATURE)
  )
    return null;
  const extra: PaymentTerms["extra"] = {
    paymentChannels: e.paymentChannels as Address,
    settlement: e.settlement as Address,
    modelId: BigInt(e.modelId),
    adapterHash: e.adapterHash as Hex,
  };
  if (e.bodyHash !== undefined) extra.bodyHash = e.bodyHash as Hex;
  if (e.lane !== undefined) {
    const lane = quickLane(e.lane);
    if (!lane) return null;
    extra.lane = lane;
  }
  const payment: PaymentPayload = {
    x402Version: X402_VERSION,
    accepted: {
      scheme: SCHEME,
      network: a.network,
      amount: BigInt(a.amount),
      asset: a.asset as Address,
      payTo: a.payTo as Address,
      maxTimeoutSeconds: a.maxTimeoutSeconds as number,
      extra,
    },
    payload: {
      voucher: {
        channelId: BigInt(v.channelId),
        modelId: BigInt(v.modelId),
        cumulativeAmount: BigInt(v.cumulativeAmount),
        cumulativeCalls: BigInt(v.cumulativeCalls),
        transcriptHash: v.transcriptHash as Hex,
      },
      requestHash: p.requestHash as Hex,
      signature: p.signature as Hex,
    },
  };
  if (r === undefined) return payment;
  if (!isObject(r) || typeof r.url !== "string" || typeof r.description !== "string") return null;
  if (typeof r.mimeType !== "string") return null;
  return { ...payment, resource: { url: r.url, description: r.description, mimeType: r.mimeType } };
}

/** laneSchema's output by hand, or null (see quickPaymentPayload). */
function quickLane(lane: unknown): LaneView | null {
  if (
    !isObject(lane) ||
    !isUint256(lane.channelId) ||
    !isUint256(lane.cumulativeAmount) ||
    !isUint256(lane.cumulativeCalls) ||
    !matches(lane.transcriptHash, HEX32) ||
    (lane.signature !== undefined && !matches(lane.signature, SIGNATURE)) ||
    (lane.nextRequestHash !== undefined && !matches(lane.nextRequestHash, HEX32))
  )
    return null;
  const view: LaneView = {
    channelId: BigInt(lane.channelId),
    cumulativeAmount: BigInt(lane.cumulativeAmount),
    cumulativeCalls: BigInt(lane.cumulativeCalls),
    transcriptHash: lane.transcriptHash as Hex,
  };
  if (lane.signature !== undefined) view.signature = lane.signature as Hex;
  if (lane.nextRequestHash !== undefined) view.nextRequestHash = lane.nextRequestHash as Hex;
  return view;
}
export const decodePaymentResponse = (raw: string | null | undefined): PaymentResponse =>
  validated(HEADERS.response, paymentResponseSchema, headerJson(HEADERS.response, raw));

/** One `accepts` entry, already decoded from its header (as a stock x402 client hands it to a scheme). */
export const parsePaymentTerms = (json: unknown): PaymentTerms =>
  validated(HEADERS.required, acceptsSchema, json);

/** A PAYMENT-RESPONSE already decoded from its header. */
export const parsePaymentResponse = (json: unknown): PaymentResponse =>
  validated(HEADERS.response, paymentResponseSchema, json);

export function paymentPayload(terms: PaymentTerms, voucher: Voucher, requestHash: Hex, sig: Hex) {
  return { x402Version: X402_VERSION, accepted: terms, payload: { voucher, requestHash, signature: sig } };
}

/**
 * A paid call's PAYMENT-RESPONSE. x402's `transaction` is the settlement transaction's hash; this
 * call is settled later, in a batch, so it is empty here (none was sent yet), and `extra` holds
 * what the consumer keeps meanwhile: the runner's signed receipt, whose batch is proven later
 * (GET /v2/receipts/{requestHash}/proof, Settlement.verifyReceipt).
 */
export function paymentResponse(fields: {
  network: string;
  payer: Address;
  receipt: Receipt;
  receiptSignature: Hex;
  runner: Address;
}) {
  const { network, payer, ...receipt } = fields;
  return {
    success: true,
    transaction: "",
    network,
    payer,
    extra: { ...receipt, settlement: "deferred" as const },
  };
}

/**
 * A refused payment's PAYMENT-RESPONSE: no payer (the refusal may be that nobody entitled signed),
 * and the runner's state of the voucher's lane, if it holds one, for the client to resume from.
 */
export function paymentRefusal(fields: { network: string; errorReason: string; lane?: LaneView }) {
  const { network, errorReason, lane } = fields;
  return { success: false, errorReason, transaction: "", network, ...(lane ? { extra: { lane } } : {}) };
}

/** A decimal integer string that fits in uint256, as every number of a voucher must. */
function isUint256(value: unknown): value is string {
  return matches(value, UINT) && BigInt(value as string) <= MAX_UINT256;
}

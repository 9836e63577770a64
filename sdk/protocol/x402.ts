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

const uint = z.string().regex(/^\d+$/, "must be a decimal integer string").transform(BigInt);
const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be 32 bytes of hex") as z.ZodType<Hex>;
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be an address") as z.ZodType<Address>;
const signature = z.string().regex(/^0x[0-9a-fA-F]{130}$/, "must be a 65-byte signature") as z.ZodType<Hex>;

const laneSchema = z.object({
  channelId: uint,
  cumulativeAmount: uint,
  cumulativeCalls: uint,
  transcriptHash: hex32,
  signature: signature.optional(),
});

const acceptsSchema = z.object({
  scheme: z.literal(SCHEME),
  network: z.string().regex(/^eip155:\d+$/),
  amount: uint,
  asset: address,
  payTo: address,
  maxTimeoutSeconds: z.number().int().positive(),
  extra: z.object({
    paymentChannels: address,
    settlement: address,
    modelId: uint,
    adapterHash: hex32,
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

const paymentPayloadSchema = z.object({
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

const paymentResponseSchema = z.object({
  success: z.boolean(),
  errorReason: z.string().optional(),
  transaction: z.string(),
  network: z.string(),
  payer: z.string(),
  receipt: receiptSchema.optional(),
  receiptSignature: signature.optional(),
  runner: address.optional(),
});

export type PaymentTerms = z.output<typeof acceptsSchema>;
export type PaymentRequired = z.output<typeof paymentRequiredSchema>;
export type PaymentPayload = z.output<typeof paymentPayloadSchema>;
export type PaymentResponse = z.output<typeof paymentResponseSchema>;
export type LaneView = z.output<typeof laneSchema>;

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

function decodeHeader<T extends z.ZodType>(
  header: string,
  schema: T,
  raw: string | null | undefined,
): z.output<T> {
  if (!raw) throw new PaymentHeaderError(header, ["the header is missing"]);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw, "base64").toString("utf8"));
  } catch {
    throw new PaymentHeaderError(header, ["not base64-encoded JSON"]);
  }
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
  decodeHeader(HEADERS.required, paymentRequiredSchema, raw);
export const decodePaymentPayload = (raw: string | null | undefined): PaymentPayload =>
  decodeHeader(HEADERS.signature, paymentPayloadSchema, raw);
export const decodePaymentResponse = (raw: string | null | undefined): PaymentResponse =>
  decodeHeader(HEADERS.response, paymentResponseSchema, raw);

export function paymentPayload(terms: PaymentTerms, voucher: Voucher, requestHash: Hex, sig: Hex) {
  return { x402Version: X402_VERSION, accepted: terms, payload: { voucher, requestHash, signature: sig } };
}

export function paymentResponse(fields: {
  network: string;
  payer: Address;
  receipt: Receipt;
  receiptSignature: Hex;
  runner: Address;
}) {
  return { success: true, transaction: "", ...fields };
}

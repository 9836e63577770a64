/**
 * One paid inference, end to end (docs/protocol/http-402.md): check the payment, run the
 * model, journal the receipt durably, and only then answer. Any failure after the voucher was
 * accepted rolls the lane back, so the consumer is never charged for an unanswered call.
 */
import type { Address, Hex } from "viem";
import type { Receipt } from "../../sdk/protocol/typedData";
import {
  encodeHeader,
  type PaymentPayload,
  type PaymentTerms,
  paymentResponse,
  SCHEME,
} from "../../sdk/protocol/x402";
import { keccak256Hex } from "../crypto/keccak";
import { requestHashNative } from "../payments/nativeHashes";
import type { Authorization, PaymentGate } from "../payments/paymentGate";
import { PaymentRefusedError } from "../payments/paymentGate";
import type { SignedReceipt } from "../payments/receiptSigner";
import type { ServedModel } from "./catalog";
import type { Classification, InferenceService } from "./inference";
import type { Journal } from "./journal";
import type { CallRecord } from "./settlement/batchPlan";

/** Signs receipts: ReceiptSigner on this thread, or the signature thread. */
export interface ReceiptSigning {
  readonly address: Address;
  signReceipt(receipt: Receipt): SignedReceipt | Promise<SignedReceipt>;
}

export interface PaidCallContext {
  chainId: number;
  paymentChannels: Address;
  settlement: Address;
  paymentAsset: Address;
  gate: PaymentGate;
  signer: ReceiptSigning;
  inference: InferenceService;
  journal: Journal;
}

export interface PaidAnswer {
  /** What was journaled: receipt and voucher, for the settler. */
  record: CallRecord;
  body: Uint8Array;
  paymentResponseHeader: string;
  receipt: Receipt;
  payer: Address;
  price: bigint;
  classification: Classification;
}

export type TermsContext = Pick<
  PaidCallContext,
  "chainId" | "paymentChannels" | "settlement" | "paymentAsset"
> & {
  runner: Address;
};

export function paymentTerms(ctx: TermsContext, model: ServedModel): PaymentTerms {
  return {
    scheme: SCHEME,
    network: `eip155:${ctx.chainId}`,
    amount: model.pricePerCall,
    asset: ctx.paymentAsset,
    payTo: ctx.runner,
    maxTimeoutSeconds: 60,
    extra: {
      paymentChannels: ctx.paymentChannels,
      settlement: ctx.settlement,
      modelId: model.modelId,
      adapterHash: model.adapterHash,
    },
  };
}

/** The payment's voucher must pay for exactly this request body at its own call index. */
function checkRequestHash(payment: PaymentPayload, modelId: bigint, body: Uint8Array): Hex {
  const { voucher, requestHash } = payment.payload;
  const expected = requestHashNative(voucher.channelId, modelId, voucher.cumulativeCalls, body);
  if (requestHash !== expected) {
    throw new PaymentRefusedError("transcript_mismatch", "the payment's request hash is not this request's", {
      expected,
    });
  }
  return expected;
}

/**
 * Runs a paid call. Throws PaymentRefusedError (answer 402), or the inference's errors
 * (adapter refused, queue full: answer 503), or JournalWriteError (503); in each case the
 * voucher is not kept. Signing the receipt does not fail for a runner reason once the voucher
 * is accepted (SignatureThread signs on this thread if its worker dies), so a journaled call
 * is an answered one.
 */
export async function runPaidCall(
  ctx: PaidCallContext,
  model: ServedModel,
  payment: PaymentPayload,
  body: Uint8Array,
  text: string,
  render: (classification: Classification, requestHash: Hex) => Uint8Array,
): Promise<PaidAnswer> {
  const requestHash = checkRequestHash(payment, model.modelId, body);
  const { voucher, signature } = payment.payload;
  const authorization: Authorization = await ctx.gate.authorize({
    voucher,
    signature,
    requestHash,
    modelId: model.modelId,
    price: model.pricePerCall,
  });
  try {
    const classification = await ctx.inference.classify(model.modelId, model.adapterHash, text);
    const answer = render(classification, requestHash);
    const receipt: Receipt = {
      requestHash,
      modelId: model.modelId,
      adapterHash: model.adapterHash,
      outputHash: keccak256Hex(answer),
      channelId: voucher.channelId,
      callIndex: voucher.cumulativeCalls,
    };
    const price = voucher.cumulativeAmount - authorization.previous.cumulativeAmount;
    const record: CallRecord = { receipt, voucher, voucherSignature: signature };
    // The receipt is signed while it is journaled: its signature is deterministic (RFC 6979), so
    // the journal need not hold it, and the answer waits for both.
    const [{ signature: receiptSignature, leaf }] = await Promise.all([
      ctx.signer.signReceipt(receipt),
      ctx.journal.append({ type: "call", ...record, price, payer: authorization.payer, at: Date.now() }),
    ]);
    record.leaf = leaf; // hashed with the signature, off this thread (and not journaled)
    const header = encodeHeader(
      paymentResponse({
        network: `eip155:${ctx.chainId}`,
        payer: authorization.payer,
        receipt,
        receiptSignature,
        runner: ctx.signer.address,
      }),
    );
    return {
      record,
      body: answer,
      paymentResponseHeader: header,
      receipt,
      payer: authorization.payer,
      price,
      classification,
    };
  } catch (error) {
    ctx.gate.rollback(voucher, authorization);
    throw error;
  }
}

/**
 * One paid inference, end to end (docs/protocol/http-402.md): check the payment, run the
 * model, journal the receipt durably, and only then answer. Any failure after the voucher was
 * accepted rolls the lane back, so the consumer is never charged for a call it was refused. A
 * journaled call whose answer was lost on the way is answered again, recomputed, when the same
 * payment comes back for it (see redeliver).
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
import type { AnsweredCall, AnsweredCalls } from "./answeredCalls";
import type { ServedModel } from "./catalog";
import type { InferenceAnswer, InferenceService } from "./inference";
import type { Journal } from "./journal";
import type { CallRecord } from "./settlement/batchPlan";

/** Signs receipts: ReceiptSigner on this thread, or the signature thread. */
export interface ReceiptSigning {
  readonly address: Address;
  signReceipt(receipt: Receipt): SignedReceipt | Promise<SignedReceipt>;
}

export interface PaidCallContext {
  /** Each lane's latest journaled call, to answer again a payment whose answer was lost. */
  answered: AnsweredCalls;
  chainId: number;
  paymentChannels: Address;
  settlement: Address;
  paymentAsset: Address;
  gate: PaymentGate;
  signer: ReceiptSigning;
  inference: InferenceService;
  journal: Journal;
}

export interface PaidAnswer<R = unknown> {
  /** What was journaled: receipt and voucher, for the settler. */
  record: CallRecord;
  body: Uint8Array;
  paymentResponseHeader: string;
  receipt: Receipt;
  payer: Address;
  /** What this answer charged: nothing when it was given again. */
  price: bigint;
  /** What the model answered (a classification, an embedding, or a batch's), before rendering. */
  result: R;
  /** The answer of a call paid and journaled before, given again (nothing charged, nothing journaled). */
  redelivered?: boolean;
}

/** How often the answer of one call is given again: each costs an inference nobody pays for. */
export const MAX_REDELIVERIES = 3;

/**
 * The answer of a journaled call, recomputed, does not hash to the journaled output hash (the
 * runner's model or its kernel changed since): the runner cannot give the answer it was paid for.
 */
export class AnswerNotReproducibleError extends Error {
  constructor(readonly details: { requestHash: Hex; journaledOutputHash: Hex; outputHash: Hex }) {
    super(
      "this call was paid and answered, and its answer cannot be reproduced: the runner's model changed since",
    );
    this.name = "AnswerNotReproducibleError";
  }
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
export async function runPaidCall<R = InferenceAnswer>(
  ctx: PaidCallContext,
  model: ServedModel,
  payment: PaymentPayload,
  body: Uint8Array,
  compute: Compute<R>,
  render: Render<R>,
): Promise<PaidAnswer<R>> {
  const requestHash = checkRequestHash(payment, model.modelId, body);
  const { voucher, signature } = payment.payload;
  if (voucher.modelId === model.modelId) {
    const answered = await ctx.answered.find(voucher, signature, requestHash);
    if (answered) return redeliver(ctx, model, answered, compute, render);
  }
  const authorization: Authorization = await ctx.gate.authorize({
    voucher,
    signature,
    requestHash,
    modelId: model.modelId,
    price: model.pricePerCall,
  });
  const journaled = ctx.answered.begin(voucher, signature, authorization.payer);
  let record: CallRecord | null = null;
  try {
    const result = await compute(model.adapterHash);
    const answer = render(result, requestHash, model);
    const receipt: Receipt = {
      requestHash,
      modelId: model.modelId,
      adapterHash: model.adapterHash,
      outputHash: keccak256Hex(answer),
      channelId: voucher.channelId,
      callIndex: voucher.cumulativeCalls,
    };
    const price = voucher.cumulativeAmount - authorization.previous.cumulativeAmount;
    const call: CallRecord = { receipt, voucher, voucherSignature: signature };
    // The receipt is signed while it is journaled: its signature is deterministic (RFC 6979), so
    // the journal need not hold it, and the answer waits for both.
    const [{ signature: receiptSignature, leaf }] = await Promise.all([
      ctx.signer.signReceipt(receipt),
      ctx.journal.append({ type: "call", ...call, price, payer: authorization.payer, at: Date.now() }),
    ]);
    call.leaf = leaf; // hashed with the signature, off this thread (and not journaled)
    record = call;
    return {
      record,
      body: answer,
      paymentResponseHeader: responseHeader(ctx, authorization.payer, receipt, receiptSignature),
      receipt,
      payer: authorization.payer,
      price,
      result,
    };
  } catch (error) {
    ctx.gate.rollback(voucher, authorization);
    throw error;
  } finally {
    journaled(record);
  }
}

/**
 * Runs the model with the adapter of `adapterHash` (the served one, or a journaled call's when it
 * is answered again): one text's answer, or a batch's (/v1/embeddings).
 */
export type Compute<R> = (adapterHash: Hex) => Promise<R>;

/** An answer's bytes, for the model (and adapter) that computed it. */
export type Render<R> = (result: R, requestHash: Hex, model: ServedModel) => Uint8Array;

function responseHeader(ctx: PaidCallContext, payer: Address, receipt: Receipt, receiptSignature: Hex) {
  return encodeHeader(
    paymentResponse({
      network: `eip155:${ctx.chainId}`,
      payer,
      receipt,
      receiptSignature,
      runner: ctx.signer.address,
    }),
  );
}

/**
 * Answers again a call that was paid and journaled, whose answer the consumer did not get: the
 * same request with the same voucher. The inference runs again with the journaled adapter; its
 * answer must hash to the journaled output hash, and it comes with the journaled receipt, signed
 * again (the same signature: RFC 6979). Nothing is charged or journaled. Throws
 * AnswerNotReproducibleError when the answer comes out different, and PaymentRefusedError
 * (voucher_stale) once the call was answered again MAX_REDELIVERIES times.
 */
async function redeliver<R>(
  ctx: PaidCallContext,
  model: ServedModel,
  answered: AnsweredCall,
  compute: Compute<R>,
  render: Render<R>,
): Promise<PaidAnswer<R>> {
  const { receipt } = answered.record;
  if (answered.redeliveries >= MAX_REDELIVERIES) {
    throw new PaymentRefusedError(
      "voucher_stale",
      `this voucher's call was answered, and answered again ${MAX_REDELIVERIES} times`,
      { callIndex: receipt.callIndex },
    );
  }
  answered.redeliveries += 1; // before the inference: concurrent retries count too
  let result: R;
  try {
    result = await compute(receipt.adapterHash);
  } catch (error) {
    answered.redeliveries -= 1; // not answered (busy, say): the consumer may try again
    throw error;
  }
  const answer = render(result, receipt.requestHash, { ...model, adapterHash: receipt.adapterHash });
  const outputHash = keccak256Hex(answer);
  if (outputHash !== receipt.outputHash) {
    throw new AnswerNotReproducibleError({
      requestHash: receipt.requestHash,
      journaledOutputHash: receipt.outputHash,
      outputHash,
    });
  }
  const { signature } = await ctx.signer.signReceipt(receipt);
  return {
    record: answered.record,
    body: answer,
    paymentResponseHeader: responseHeader(ctx, answered.payer, receipt, signature),
    receipt,
    payer: answered.payer,
    price: 0n,
    result,
    redelivered: true,
  };
}

/**
 * The `openlora-channel` scheme as an x402 `SchemeNetworkClient` (@x402/core), so that a stock
 * x402 client (`@x402/fetch`'s wrapFetchWithPayment, or any client built on x402Client) pays a
 * runner from its channel (docs/protocol/http-402.md, "Stock x402 clients"):
 *
 *   const scheme = new OpenLoRAChannelScheme({ lanes: channelLanes(client, channelId) });
 *   const x402 = new x402Client().register(`eip155:${chainId}`, scheme)
 *     .setSpendControls({ allowedAssets: [{ network, asset, maxAmountPerPayment: "5000" }] });
 *   const paidFetch = wrapFetchWithPayment(fetch, x402);
 *
 * A stock client hands the scheme only the 402's terms, never the request body, and cannot name
 * its channel on the unpaid request. The runner's 402 offers the body's hash (`extra.bodyHash`),
 * so the scheme signs the next voucher of its own lane from the terms alone: requestHash =
 * keccak256(abi.encode(channelId, modelId, callIndex, bodyHash)). Concurrent calls on one lane
 * take their turns here, one paid request in flight at a time: each signs its own call index and
 * reaches the runner after the one before it was answered, as the lane's hash chain requires. A
 * refusal's PAYMENT-RESPONSE names the runner's state of the lane: the scheme resumes from it
 * (only from a voucher it signed itself) and asks the client to pay once more.
 */
import type {
  PaymentPayloadContext,
  PaymentPayloadResult,
  PaymentRequirements,
  SchemeClientHooks,
  SchemeNetworkClient,
} from "@x402/core/types";
import type { Hex } from "viem";
import type { Voucher } from "../protocol/typedData";
import {
  type PaymentResponse,
  type PaymentTerms,
  parsePaymentResponse,
  parsePaymentTerms,
  SCHEME,
  X402_VERSION,
} from "../protocol/x402";
import type { ChannelLanes, LaneCursor } from "./lanes";
import { type PaidReceipt, PaymentClientError, receiptProblems } from "./payingFetch";

export interface ChannelSchemeOptions {
  /** The consumer's lanes on its channel (channelLanes(client, channelId)). */
  lanes: ChannelLanes;
  /** Refuse terms above this price per call (payment-asset base units). */
  maxPricePerCall?: bigint;
  /**
   * Each paid call's receipt, checked (this request, this model, signed by the runner paid). Its
   * outputHash is the answer's keccak256, which the caller checks against the body it reads.
   */
  onReceipt?(paid: PaidReceipt): void;
  /** How long a paid request holds its lane when no answer comes (a dropped connection); default: the terms' maxTimeoutSeconds. */
  laneHoldMs?: number;
}

/** Refusals that the runner's state of the lane cures: the scheme resumes from it and pays again. */
const RESYNCABLE = new Set(["voucher_stale", "transcript_mismatch"]);

interface Pending {
  terms: PaymentTerms;
  voucher: Voucher;
  previous: LaneCursor;
  release(): void;
}

type ResponseContext = Parameters<NonNullable<SchemeClientHooks["onPaymentResponse"]>>[0];

export class OpenLoRAChannelScheme implements SchemeNetworkClient {
  readonly scheme = SCHEME;
  readonly schemeHooks: SchemeClientHooks = { onPaymentResponse: (ctx) => this.onPaymentResponse(ctx) };
  /** Each lane's (model's) last turn: the next paid request waits for it. */
  private readonly turns = new Map<bigint, Promise<void>>();
  /** Paid requests awaiting their answer, by request hash. */
  private readonly pending = new Map<Hex, Pending>();

  constructor(private readonly options: ChannelSchemeOptions) {}

  async createPaymentPayload(
    x402Version: number,
    requirements: PaymentRequirements,
    context?: PaymentPayloadContext,
  ): Promise<PaymentPayloadResult> {
    if (x402Version !== X402_VERSION)
      throw new PaymentClientError(`the openlora-channel scheme speaks x402 version ${X402_VERSION}`, {
        x402Version,
      });
    const terms = this.check(requirements, context);
    const bodyHash = terms.extra.bodyHash as Hex;
    const { modelId } = terms.extra;
    let signed: Hex | null = null;
    const holdMs = this.options.laneHoldMs ?? terms.maxTimeoutSeconds * 1000;
    const release = await this.turn(modelId, holdMs, () => signed && this.pending.delete(signed));
    try {
      const { lanes } = this.options;
      const offered = terms.extra.lane;
      // A lane the runner holds beyond this client's (it lost its state) is resumed from, if this
      // signer signed it; one behind is a 402 issued before this client's last call was answered.
      if (offered && offered.cumulativeCalls > lanes.cursor(modelId).cumulativeCalls)
        await lanes.resync(modelId, offered);
      const previous = lanes.cursor(modelId);
      const call = await lanes.signNextForBodyHash(modelId, terms.amount, bodyHash);
      signed = call.requestHash;
      this.pending.set(call.requestHash, { terms, voucher: call.voucher, previous, release });
      const { voucher } = call;
      return {
        x402Version,
        payload: {
          voucher: {
            channelId: voucher.channelId.toString(),
            modelId: voucher.modelId.toString(),
            cumulativeAmount: voucher.cumulativeAmount.toString(),
            cumulativeCalls: voucher.cumulativeCalls.toString(),
            transcriptHash: voucher.transcriptHash,
          },
          requestHash: call.requestHash,
          signature: call.signature,
        },
      };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Our terms, on this client's chain and channel contract, within its price limits; else a clear error. */
  private check(requirements: PaymentRequirements, context?: PaymentPayloadContext): PaymentTerms {
    const terms = parsePaymentTerms(requirements);
    const { lanes, maxPricePerCall } = this.options;
    if (terms.network !== `eip155:${lanes.chainId}`)
      throw new PaymentClientError("the runner's terms are for another chain", { network: terms.network });
    if (terms.extra.paymentChannels.toLowerCase() !== lanes.paymentChannels.toLowerCase()) {
      throw new PaymentClientError("the runner accepts payment on another channel contract", {
        paymentChannels: terms.extra.paymentChannels,
      });
    }
    if (!terms.extra.bodyHash) {
      throw new PaymentClientError(
        "the runner's 402 offers no bodyHash, which a stock x402 client needs; pay it with createPayingFetch",
      );
    }
    const spendCap = context?.maxAmountPerPayment;
    for (const limit of [maxPricePerCall, spendCap === undefined ? undefined : BigInt(spendCap)]) {
      if (limit !== undefined && terms.amount > limit) {
        throw new PaymentClientError("the runner's price is above this client's limit", {
          price: terms.amount,
          limit,
        });
      }
    }
    return terms;
  }

  /**
   * Waits for the lane's previous paid request to be answered (or to have held the lane for
   * holdMs), and returns what ends this one's turn.
   */
  private async turn(modelId: bigint, holdMs: number, expired: () => void): Promise<() => void> {
    const before = this.turns.get(modelId) ?? Promise.resolve();
    let end = () => {};
    const ended = new Promise<void>((resolve) => (end = resolve));
    const mine = before.then(() => ended);
    this.turns.set(modelId, mine);
    await before;
    const timer = setTimeout(() => {
      expired();
      release();
    }, holdMs);
    timer.unref?.();
    const release = () => {
      clearTimeout(timer);
      end();
      if (this.turns.get(modelId) === mine) this.turns.delete(modelId);
    };
    return release;
  }

  /** After each paid request: check the receipt, or resume from a refusal and ask to pay again. */
  private async onPaymentResponse(ctx: ResponseContext): Promise<undefined | { recovered: true }> {
    const requestHash = ctx.paymentPayload.payload.requestHash as Hex;
    const pending = this.pending.get(requestHash);
    if (!pending) return; // another scheme's payment, or one whose turn timed out
    this.pending.delete(requestHash);
    try {
      const response = ctx.settleResponse ? parsePaymentResponse(ctx.settleResponse) : null;
      if (response?.success) {
        await this.received(ctx, pending, requestHash, response.extra);
        return undefined;
      }
      // Not taken: refused (402), or not served (a 5xx rolls the voucher back).
      return (await this.resume(pending, response)) ? { recovered: true } : undefined;
    } finally {
      pending.release();
    }
  }

  /**
   * After a voucher was not taken: the lane goes back to the runner's state of it (a voucher this
   * signer signed), or else to where it was before this voucher, brought up to the chain where
   * the runner offers none. Returns whether paying again can succeed.
   */
  private async resume(pending: Pending, response: PaymentResponse | null): Promise<boolean> {
    const { lanes } = this.options;
    const modelId = pending.voucher.modelId;
    const resyncable = RESYNCABLE.has(response?.errorReason ?? "");
    const lane = response?.extra?.lane;
    if (lane && (await lanes.resync(modelId, lane))) return resyncable;
    this.giveBack(pending);
    return resyncable && !lane && (await lanes.catchUpWithChain(modelId));
  }

  /** A voucher the runner did not take: its call index goes back, unless a later one was signed since. */
  private giveBack(pending: Pending): void {
    const { lanes } = this.options;
    const modelId = pending.voucher.modelId;
    if (lanes.cursor(modelId).cumulativeCalls === pending.voucher.cumulativeCalls)
      lanes.restoreCursor(modelId, pending.previous);
  }

  private async received(
    ctx: ResponseContext,
    pending: Pending,
    requestHash: Hex,
    extra: ReturnType<typeof parsePaymentResponse>["extra"],
  ): Promise<void> {
    const { receipt, receiptSignature, runner } = extra ?? {};
    if (!receipt || !receiptSignature || !runner)
      throw new PaymentClientError("paid answer without a receipt");
    const { terms, voucher } = pending;
    const problems = await receiptProblems(this.options.lanes.chainId, terms, {
      requestHash,
      receipt,
      receiptSignature,
    });
    if (receipt.channelId !== voucher.channelId || receipt.callIndex !== voucher.cumulativeCalls)
      problems.push("it is for another call of the lane");
    if (problems.length > 0)
      throw new PaymentClientError(`invalid receipt: ${problems.join(", ")}`, { receipt });
    const url = ctx.paymentPayload.resource?.url ?? "";
    this.options.onReceipt?.({ url, receipt, receiptSignature, runner, price: terms.amount });
  }
}

/**
 * A `fetch` that pays per call: answers the runner's 402 with a signed voucher on the
 * consumer's channel (docs/protocol/http-402.md), checks the runner-signed receipt of every
 * paid answer against the bytes it received, and hands the receipt to `onReceipt`. A paid
 * request whose connection drops before its answer is read is sent again with the same
 * voucher: the runner answers a call it already charged for again, and charges nothing more.
 */
import { type Address, type Hex, keccak256, recoverTypedDataAddress } from "viem";
import { receiptTypes, settlementDomain } from "../protocol/typedData";
import {
  decodePaymentRequired,
  decodePaymentResponse,
  encodeHeader,
  HEADERS,
  type PaidReceiptFields,
  type PaymentRequired,
  type PaymentTerms,
  paymentPayload,
  SCHEME,
} from "../protocol/x402";
import type { ChannelLanes } from "./lanes";
import { ecdsaShapeProblem } from "./receipts";

export class PaymentClientError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "PaymentClientError";
  }
}

export interface PaidReceipt {
  url: string;
  receipt: NonNullable<PaidReceiptFields["receipt"]>;
  receiptSignature: Hex;
  runner: Address;
  price: bigint;
}

export interface PayingFetchOptions {
  lanes: ChannelLanes;
  /** Refuse terms above this price per call (payment-asset base units). */
  maxPricePerCall?: bigint;
  onReceipt?(paid: PaidReceipt): void;
  fetch?: typeof fetch;
  /**
   * Ask the runner's terms for every request (an unpaid request first) instead of reusing the
   * last terms of its URL: for an endpoint whose model and price come from the body, such as
   * POST /v1/embeddings (the model named in the body, priced per input text).
   */
  quoteEachRequest?: boolean;
}

/** Tries at most this often per call: unpaid probe, paid try, one retry after a lane resync. */
const MAX_ATTEMPTS = 3;
/**
 * How often a paid request is sent again, with the same voucher, after its connection dropped.
 * The waits double from RESEND_DELAY_MS, 3.75 s in all: long enough for a runner that was
 * killed to come back on its journal.
 */
const RESENDS = 4;
const RESEND_DELAY_MS = 250;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Refusals that a fresh voucher from the runner's view of the lane can cure. */
const RESYNCABLE = new Set(["voucher_stale", "transcript_mismatch"]);

/**
 * What is wrong with a paid call's receipt, short of its output hash (checked against the answer's
 * bytes where they are at hand): it must be for this request and model, and signed by the runner
 * paid, in a form Settlement accepts (a signature it refuses is no evidence: equivocation).
 */
export async function receiptProblems(
  chainId: number,
  terms: PaymentTerms,
  paid: { requestHash: Hex; receipt: PaidReceipt["receipt"]; receiptSignature: Hex },
): Promise<string[]> {
  const { receipt, receiptSignature } = paid;
  const problems: string[] = [];
  if (receipt.requestHash !== paid.requestHash) problems.push("it is for another request");
  if (receipt.modelId !== terms.extra.modelId) problems.push("it names another model");
  const shape = ecdsaShapeProblem(receiptSignature);
  if (shape) problems.push(`its signature is not one Settlement accepts: ${shape}`);
  else {
    const signer = await recoverTypedDataAddress({
      domain: settlementDomain(chainId, terms.extra.settlement),
      types: receiptTypes,
      primaryType: "Receipt",
      message: receipt,
      signature: receiptSignature,
    }).catch(() => null);
    if (signer?.toLowerCase() !== terms.payTo.toLowerCase())
      problems.push("it is not signed by the runner paid");
  }
  return problems;
}

export function createPayingFetch(options: PayingFetchOptions) {
  const { lanes } = options;
  const baseFetch = options.fetch ?? fetch;
  const termsByUrl = new Map<string, PaymentTerms>();

  function pickTerms(required: PaymentRequired): PaymentTerms {
    const terms = required.accepts.find(
      (t) =>
        t.scheme === SCHEME &&
        t.network === `eip155:${lanes.chainId}` &&
        t.extra.paymentChannels.toLowerCase() === lanes.paymentChannels.toLowerCase(),
    );
    if (!terms) {
      throw new PaymentClientError(
        "the runner accepts no payment on this client's channel contract and chain",
        {
          accepts: required.accepts,
        },
      );
    }
    if (options.maxPricePerCall !== undefined && terms.amount > options.maxPricePerCall) {
      throw new PaymentClientError("the runner's price is above this client's limit", {
        price: terms.amount,
        maxPricePerCall: options.maxPricePerCall,
      });
    }
    return terms;
  }

  async function verifyReceipt(terms: PaymentTerms, requestHash: Hex, response: Response, body: Uint8Array) {
    const paid = decodePaymentResponse(response.headers.get(HEADERS.response));
    const { receipt, receiptSignature, runner } = paid.extra ?? {};
    if (!paid.success || !receipt || !receiptSignature || !runner)
      throw new PaymentClientError("paid answer without a receipt");
    const problems = await receiptProblems(lanes.chainId, terms, { requestHash, receipt, receiptSignature });
    if (receipt.outputHash !== keccak256(body)) problems.push("its output hash does not match the answer");
    if (problems.length > 0)
      throw new PaymentClientError(`invalid receipt: ${problems.join(", ")}`, { receipt });
    return { receipt, receiptSignature, runner, price: terms.amount };
  }

  /**
   * A runner offers no lane state when it took the lane from the chain (it lost its journal):
   * this client then resumes from the chain too. A failed read is not fatal, since this
   * client's own cursor may still be right; it is returned to explain a later refusal.
   */
  async function catchUpWithChain(modelId: bigint): Promise<string | undefined> {
    try {
      await lanes.catchUpWithChain(modelId);
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /**
   * Sends a paid request and reads its answer whole. When the connection fails first (reset,
   * closed, refused: fetch throws), the runner may have charged the voucher and lost the answer,
   * so the same request goes again with the same voucher, up to RESENDS times.
   */
  async function fetchPaid(
    url: string,
    init: RequestInit,
  ): Promise<{ response: Response; bytes: Uint8Array }> {
    for (let resend = 0; ; resend++) {
      try {
        const response = await baseFetch(url, init);
        return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
      } catch (error) {
        if (init.signal?.aborted) throw error; // the caller gave up: not a dropped connection
        if (resend === RESENDS) {
          throw new PaymentClientError(
            `the connection to the runner failed ${RESENDS + 1} times before its answer; the call may be charged, and the next call resumes the lane`,
            { url, cause: error instanceof Error ? error.message : String(error) },
          );
        }
        await sleep(RESEND_DELAY_MS * 2 ** resend);
      }
    }
  }

  /**
   * Takes what `fetch` takes, so that client libraries accept it as their fetch (the `openai`
   * client's `fetch` option); a Request object is refused: its body is a stream to hash first.
   */
  return async function payingFetch(
    input: string | URL | Request,
    init: RequestInit = {},
  ): Promise<Response> {
    if (typeof input !== "string" && !(input instanceof URL)) {
      throw new PaymentClientError("a paid request is given as a URL and its init, not as a Request object");
    }
    const url = input.toString();
    const body = init.body ?? "";
    if (typeof body !== "string" && !(body instanceof Uint8Array)) {
      throw new PaymentClientError(
        "a paid request needs a string or byte body: its hash is what the voucher pays for",
      );
    }
    let lastReason = "";
    let chainReadError: string | undefined;
    let quoted: PaymentTerms | undefined; // this request's own terms (quoteEachRequest)
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const headers = new Headers(init.headers);
      headers.set(HEADERS.channel, lanes.channelId.toString());
      const terms = options.quoteEachRequest ? quoted : termsByUrl.get(url);
      let requestHash: Hex | null = null;
      if (terms) {
        const call = await lanes.signNext(terms.extra.modelId, terms.amount, body);
        requestHash = call.requestHash;
        headers.set(
          HEADERS.signature,
          encodeHeader(paymentPayload(terms, call.voucher, call.requestHash, call.signature)),
        );
      }
      // The body as given: a GET may carry none (its hash is the empty body's).
      const sent = { ...init, headers };
      const paid = terms ? await fetchPaid(url, sent) : null;
      const response = paid ? paid.response : await baseFetch(url, sent);
      if (response.status === 402) {
        const required = decodePaymentRequired(response.headers.get(HEADERS.required));
        const offered = pickTerms(required);
        if (options.quoteEachRequest) quoted = offered;
        else termsByUrl.set(url, offered);
        if (offered.extra.lane) await lanes.resync(offered.extra.modelId, offered.extra.lane);
        else chainReadError = await catchUpWithChain(offered.extra.modelId);
        if (!terms) continue; // the unpaid probe: now we know the terms
        const refusal = response.headers.get(HEADERS.response);
        lastReason = refusal ? (decodePaymentResponse(refusal).errorReason ?? "") : "";
        if (RESYNCABLE.has(lastReason)) continue;
        throw new PaymentClientError(`the runner refused the payment: ${lastReason || "no reason given"}`, {
          url,
          reason: lastReason,
          error: required.error,
          ...(chainReadError ? { chainReadError } : {}),
        });
      }
      if (!paid || !requestHash) return response;
      const { bytes } = paid;
      if (response.ok)
        options.onReceipt?.({
          url,
          ...(await verifyReceipt(terms as PaymentTerms, requestHash, response, bytes)),
        });
      return new Response(bytes, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    }
    throw new PaymentClientError(`the runner refused payment ${MAX_ATTEMPTS} times (${lastReason})`, {
      url,
      reason: lastReason,
      ...(chainReadError ? { chainReadError } : {}),
    });
  };
}

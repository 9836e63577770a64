/** What the runner's signature thread is asked to do, and how it answers (one per job). */
import type { Address, Hex } from "viem";
import type { Receipt, Voucher } from "../../sdk/protocol/typedData";
import { SignatureError } from "./nativeEip712";
import { ReceiptSigner } from "./receiptSigner";
import { VoucherVerifier } from "./voucherVerifier";

export interface ThreadConfig {
  chainId: number;
  paymentChannels: Address;
  settlement: Address;
  privateKey: Hex;
}

export type Job = { op: "voucher"; voucher: Voucher; signature: Hex } | { op: "receipt"; receipt: Receipt };

/** A voucher's signer, or a receipt's signature with its Merkle leaf. */
export type JobResult = { value: string; leaf?: Hex } | { error: string; details?: Record<string, unknown> };

/** Runs jobs on the calling thread; the worker wraps this. */
export function createJobRunner(config: ThreadConfig): (job: Job) => JobResult {
  const verifier = new VoucherVerifier(config.chainId, config.paymentChannels);
  const signer = new ReceiptSigner(config.chainId, config.settlement, config.privateKey);
  return (job) => {
    try {
      if (job.op === "voucher") return { value: verifier.recoverSigner(job.voucher, job.signature) };
      const { signature, leaf } = signer.signReceipt(job.receipt);
      return { value: signature, leaf };
    } catch (error) {
      if (error instanceof SignatureError) return { error: error.message, details: error.details };
      return { error: `signature job failed: ${(error as Error).message}` };
    }
  };
}

/**
 * A consumer's lane for settlement tests and benchmarks: each call's receipt and the voucher
 * that pays for it, signed with the consumer's key as the SDK's paying fetch signs it (EIP-712,
 * v = 27 or 28), natively so that a benchmark can sign hundreds of thousands of vouchers.
 */
import { type Address, bytesToHex, type Hex, hexToBytes, toHex } from "viem";
import { EMPTY_TRANSCRIPT } from "../../../../sdk/protocol/typedData";
import { cryptoBackend } from "../../../crypto/nativeBackend";
import { extendTranscriptNative, keccak256HexNative } from "../../../payments/nativeHashes";
import { VoucherVerifier } from "../../../payments/voucherVerifier";
import type { CallRecord } from "../batchPlan";

export class ConsumerLane {
  private calls = 0n;
  private amount = 0n;
  private transcript: Hex = EMPTY_TRANSCRIPT;
  private readonly key: Uint8Array;
  private readonly verifier: VoucherVerifier;
  private readonly adapterHash: Hex;

  constructor(
    readonly channelId: bigint,
    readonly modelId: bigint,
    readonly price: bigint,
    consumerKey: Hex,
    chain: { chainId: number; paymentChannels: Address },
  ) {
    this.key = hexToBytes(consumerKey);
    this.verifier = new VoucherVerifier(chain.chainId, chain.paymentChannels);
    this.adapterHash = keccak256HexNative(toHex(`adapter ${modelId}`));
  }

  get paidCalls(): bigint {
    return this.calls;
  }

  get paidAmount(): bigint {
    return this.amount;
  }

  /** The next call, paid by a voucher for every call of the lane so far. */
  next(): CallRecord {
    this.calls += 1n;
    this.amount += this.price;
    const requestHash = keccak256HexNative(toHex(`${this.channelId}/${this.modelId}/${this.calls}`));
    this.transcript = extendTranscriptNative(this.transcript, requestHash);
    const voucher = {
      channelId: this.channelId,
      modelId: this.modelId,
      cumulativeAmount: this.amount,
      cumulativeCalls: this.calls,
      transcriptHash: this.transcript,
    };
    const { signature, recid } = cryptoBackend.sign(this.verifier.digest(voucher), this.key);
    const receipt = {
      requestHash,
      modelId: this.modelId,
      adapterHash: this.adapterHash,
      outputHash: keccak256HexNative(requestHash),
      channelId: this.channelId,
      callIndex: this.calls,
    };
    return {
      receipt,
      voucher,
      voucherSignature: `${bytesToHex(signature)}${(27 + recid).toString(16)}` as Hex,
    };
  }
}

/** The same signature with v as 0 or 1 rather than 27 or 28: ecrecover, and the contract, refuse it. */
export function withRawRecoveryId(signature: Hex): Hex {
  const v = Number.parseInt(signature.slice(-2), 16);
  return `${signature.slice(0, -2)}${(v - 27).toString(16).padStart(2, "0")}` as Hex;
}

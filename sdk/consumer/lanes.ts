/**
 * A consumer's side of its payment-channel lanes: remembers the last voucher signed in each
 * (channel, model) lane and signs the next one for a request.
 */
import { type Address, type Hex, type LocalAccount, recoverTypedDataAddress } from "viem";
import {
  EMPTY_TRANSCRIPT,
  extendTranscript,
  paymentChannelsDomain,
  requestHash,
  type Voucher,
  voucherTypes,
} from "../protocol/typedData";

export interface LaneCursor {
  cumulativeAmount: bigint;
  cumulativeCalls: bigint;
  transcriptHash: Hex;
}

export interface SignedCall {
  voucher: Voucher;
  signature: Hex;
  requestHash: Hex;
}

export class ChannelLanes {
  private readonly cursors = new Map<bigint, LaneCursor>();

  constructor(
    /** The consumer, or a session key the consumer authorised for this channel. */
    private readonly signer: LocalAccount,
    readonly chainId: number,
    readonly paymentChannels: Address,
    readonly channelId: bigint,
  ) {}

  cursor(modelId: bigint): LaneCursor {
    return (
      this.cursors.get(modelId) ?? {
        cumulativeAmount: 0n,
        cumulativeCalls: 0n,
        transcriptHash: EMPTY_TRANSCRIPT,
      }
    );
  }

  /**
   * Adopts the runner's view of a lane (after a lost answer or a restart), but only a voucher
   * this signer provably signed: a runner cannot make the consumer pay for calls it never made.
   * Returns whether the view was adopted.
   */
  async resync(modelId: bigint, lane: LaneCursor & { channelId: bigint; signature?: Hex }): Promise<boolean> {
    if (lane.channelId !== this.channelId) return false;
    if (lane.cumulativeCalls === 0n) {
      this.cursors.delete(modelId);
      return true;
    }
    if (!lane.signature) return false;
    const voucher: Voucher = { ...lane, modelId, channelId: this.channelId };
    const signer = await recoverTypedDataAddress({
      domain: paymentChannelsDomain(this.chainId, this.paymentChannels),
      types: voucherTypes,
      primaryType: "Voucher",
      message: voucher,
      signature: lane.signature,
    }).catch(() => null);
    if (signer?.toLowerCase() !== this.signer.address.toLowerCase()) return false;
    this.cursors.set(modelId, {
      cumulativeAmount: lane.cumulativeAmount,
      cumulativeCalls: lane.cumulativeCalls,
      transcriptHash: lane.transcriptHash,
    });
    return true;
  }

  /** Signs the voucher paying `price` for one call with this request body, and advances the lane. */
  async signNext(modelId: bigint, price: bigint, body: string | Uint8Array): Promise<SignedCall> {
    const lane = this.cursor(modelId);
    const callIndex = lane.cumulativeCalls + 1n;
    const hash = requestHash(this.channelId, modelId, callIndex, body);
    const voucher: Voucher = {
      channelId: this.channelId,
      modelId,
      cumulativeAmount: lane.cumulativeAmount + price,
      cumulativeCalls: callIndex,
      transcriptHash: extendTranscript(lane.transcriptHash, hash),
    };
    const signature = await this.signer.signTypedData({
      domain: paymentChannelsDomain(this.chainId, this.paymentChannels),
      types: voucherTypes,
      primaryType: "Voucher",
      message: voucher,
    });
    this.cursors.set(modelId, voucher);
    return { voucher, signature, requestHash: hash };
  }
}

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
  requestHashOfBody,
  type Voucher,
  voucherTypes,
} from "../protocol/typedData";

export interface LaneCursor {
  cumulativeAmount: bigint;
  cumulativeCalls: bigint;
  transcriptHash: Hex;
}

/** What PaymentChannels has paid in a lane: its last settled voucher's cumulative values. */
export interface SettledLane {
  paidAmount: bigint;
  paidCalls: bigint;
}

export interface ChannelLanesOptions {
  /** Reads a lane's settled state from the chain; without it, a lost lane is only resumed from the runner's signed view. */
  settledLane?(modelId: bigint): Promise<SettledLane>;
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
    private readonly options: ChannelLanesOptions = {},
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

  /**
   * Adopts the chain's settled state of a lane, for a runner that offers none (it took the lane
   * from the chain itself, after losing its journal). Safe without trusting the runner: the
   * chain paid those calls, so their vouchers were signed on this channel; the transcript stays
   * this client's, since the chain keeps none and such a runner takes the next one as signed.
   * Returns whether the cursor moved; false too when this client has no chain reader.
   */
  async catchUpWithChain(modelId: bigint): Promise<boolean> {
    if (!this.options.settledLane) return false;
    const settled = await this.options.settledLane(modelId);
    const lane = this.cursor(modelId);
    if (settled.paidCalls === lane.cumulativeCalls && settled.paidAmount === lane.cumulativeAmount)
      return false;
    this.cursors.set(modelId, {
      cumulativeAmount: settled.paidAmount,
      cumulativeCalls: settled.paidCalls,
      transcriptHash: lane.transcriptHash,
    });
    return true;
  }

  /** Sets a lane back to an earlier cursor: the call index of a voucher the runner did not take, given back. */
  restoreCursor(modelId: bigint, cursor: LaneCursor): void {
    this.cursors.set(modelId, cursor);
  }

  /** Signs the voucher paying `price` for one call with this request body, and advances the lane. */
  signNext(modelId: bigint, price: bigint, body: string | Uint8Array): Promise<SignedCall> {
    return this.signNextFor(modelId, price, (callIndex) =>
      requestHash(this.channelId, modelId, callIndex, body),
    );
  }

  /** signNext for a body known by its keccak256 only (a 402's `bodyHash`). */
  signNextForBodyHash(modelId: bigint, price: bigint, bodyHash: Hex): Promise<SignedCall> {
    return this.signNextFor(modelId, price, (callIndex) =>
      requestHashOfBody(this.channelId, modelId, callIndex, bodyHash),
    );
  }

  /**
   * The lane advances before the signature is awaited, so that concurrent calls take distinct
   * call indices, each transcript extending the one before; a signature that fails gives its
   * call index back if no later call took the lane since.
   */
  private async signNextFor(
    modelId: bigint,
    price: bigint,
    hashAt: (callIndex: bigint) => Hex,
  ): Promise<SignedCall> {
    const lane = this.cursor(modelId);
    const callIndex = lane.cumulativeCalls + 1n;
    const hash = hashAt(callIndex);
    const voucher: Voucher = {
      channelId: this.channelId,
      modelId,
      cumulativeAmount: lane.cumulativeAmount + price,
      cumulativeCalls: callIndex,
      transcriptHash: extendTranscript(lane.transcriptHash, hash),
    };
    this.cursors.set(modelId, voucher);
    try {
      const signature = await this.signer.signTypedData({
        domain: paymentChannelsDomain(this.chainId, this.paymentChannels),
        types: voucherTypes,
        primaryType: "Voucher",
        message: voucher,
      });
      return { voucher, signature, requestHash: hash };
    } catch (error) {
      if (this.cursors.get(modelId) === voucher) this.cursors.set(modelId, lane);
      throw error;
    }
  }
}

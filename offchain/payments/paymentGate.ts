/**
 * The runner's decision on a paid call: is this voucher exactly the next one of its lane,
 * signed by the channel's consumer (or session key), paying the price, extending the lane's
 * transcript by this request, and covered by the channel's on-chain balance? Reasons for a
 * refusal are the `errorReason`s of docs/protocol/http-402.md.
 *
 * Lane state lives in memory and is rebuilt from the receipt journal on start; channel
 * balances come from the chain through a cached `ChannelSource`, so serving continues within
 * known balances while the RPC is down. The first call of each lane also reads what the chain
 * has already paid in it, and settlements seen on-chain later are reported to the gate
 * (`observeSettledLane`): a runner whose journal is behind the chain (a lost or restored data
 * directory, a second runner on the same key) must not serve vouchers the contract would refuse
 * to pay.
 *
 * A voucher's signature is accepted exactly when PaymentChannels would accept it
 * (docs/protocol/typed-data.md): a 65-byte low-s (r, s, v = 27|28) signature by the consumer or
 * one of its session keys, or, for a consumer that is a contract, any signature its ERC-1271
 * `isValidSignature` approves.
 */
import type { Address, Hex } from "viem";
import type { Voucher } from "../../sdk/protocol/typedData";
import { bytesToHexFast } from "../crypto/keccak";
import { SignatureError } from "./nativeEip712";
import { extendTranscriptNative } from "./nativeHashes";

export type RefusalReason =
  | "voucher_wrong_lane"
  | "voucher_wrong_signer"
  | "voucher_stale"
  | "voucher_underpaid"
  | "transcript_mismatch"
  | "insufficient_channel_balance"
  | "channel_unusable";

export class PaymentRefusedError extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "PaymentRefusedError";
  }
}

/** What the chain says about a channel, as last read. */
export interface ChannelSnapshot {
  channelId: bigint;
  consumer: Address;
  runner: Address;
  /** Who may sign vouchers: the consumer and its session key. */
  signers: Address[];
  /** The session key replaced last, which signs until `validUntil` (unix seconds). */
  previousSessionKey?: { address: Address; validUntil: bigint };
  /** Everything ever deposited: the lanes' cumulative amounts together can never exceed it. */
  deposited: bigint;
  /** A close was requested or the rest withdrawn: no new calls. */
  closing: boolean;
}

/** What PaymentChannels has paid in a lane: the cumulative amount and calls of its last settled voucher. */
export interface SettledLane {
  paidAmount: bigint;
  paidCalls: bigint;
}

export interface ChannelSource {
  /**
   * The latest known snapshot, or null for a channel that does not exist. `fresh` asks to
   * bypass any cache (a consumer may just have topped up).
   */
  channel(channelId: bigint, options?: { fresh?: boolean }): Promise<ChannelSnapshot | null>;
  /** The lane's settled state as the chain has it now; throws when the chain cannot be read. */
  settledLane(channelId: bigint, modelId: bigint): Promise<SettledLane>;
  /**
   * ERC-1271: whether `account`'s `isValidSignature(digest, signature)` approves now; null for an
   * account without code (an EOA, which signs by ECDSA only). Asked only for a signature that does
   * not recover to one of the channel's signers, so an EOA consumer's calls cost no read. A source
   * without it refuses such signatures, as for an EOA.
   */
  contractApproves?(account: Address, digest: Hex, signature: Hex): Promise<boolean | null>;
}

/** Recovers who signed a voucher: VoucherVerifier on this thread, or the signature thread. */
export interface VoucherSignerRecovery {
  /** The signer of a 65-byte ECDSA signature; throws SignatureError where the contract would refuse it. */
  recoverSigner(voucher: Voucher, signature: Hex): Address | Promise<Address>;
  /** The EIP-712 digest the consumer signed (for ERC-1271 consumers). */
  digest(voucher: Voucher): Uint8Array;
}

export interface LaneState {
  cumulativeAmount: bigint;
  cumulativeCalls: bigint;
  /** Null when the lane was taken from the chain, which keeps no transcript. */
  transcriptHash: Hex | null;
  signature: Hex | null;
}

export interface PaidCall {
  voucher: Voucher;
  signature: Hex;
  requestHash: Hex;
  modelId: bigint;
  price: bigint;
}

export interface Authorization {
  payer: Address;
  previous: LaneState;
  accepted: LaneState;
}

const laneKey = (channelId: bigint, modelId: bigint) => `${channelId}:${modelId}`;

/** How long a journal-known lane is served on the journal after its chain read failed. */
const CHAIN_RETRY_MS = 2_000;

export class PaymentGate {
  private readonly lanes = new Map<string, LaneState>();
  /** Sum of the accepted cumulative amounts of each channel's lanes. */
  private readonly committed = new Map<bigint, bigint>();
  /** Lanes whose journaled state was compared with the chain's since start. */
  private readonly checkedAgainstChain = new Set<string>();
  /** Journal-known lanes whose chain read failed: when to try the chain again (ms since epoch). */
  private readonly chainRetryAt = new Map<string, number>();

  constructor(
    private readonly verifier: VoucherSignerRecovery,
    private readonly runner: Address,
    private readonly source: ChannelSource,
  ) {}

  /** The last accepted voucher of a lane (the settled state until one is accepted). */
  lane(channelId: bigint, modelId: bigint): LaneState {
    return (
      this.lanes.get(laneKey(channelId, modelId)) ?? {
        cumulativeAmount: 0n,
        cumulativeCalls: 0n,
        transcriptHash: `0x${"00".repeat(32)}`,
        signature: null,
      }
    );
  }

  /** Restores a lane from the journal on start (the latest accepted voucher wins). */
  restore(channelId: bigint, modelId: bigint, state: LaneState): void {
    const current = this.lane(channelId, modelId);
    if (state.cumulativeCalls > current.cumulativeCalls) this.setLane(channelId, modelId, current, state);
  }

  /** What the channel's lanes have accepted in total, settled or not. */
  committedIn(channelId: bigint): bigint {
    return this.committed.get(channelId) ?? 0n;
  }

  private setLane(channelId: bigint, modelId: bigint, previous: LaneState, next: LaneState): void {
    this.lanes.set(laneKey(channelId, modelId), next);
    const delta = next.cumulativeAmount - previous.cumulativeAmount;
    this.committed.set(channelId, this.committedIn(channelId) + delta);
  }

  /** Accepts the call's voucher as the lane's latest, or throws PaymentRefusedError. */
  async authorize(call: PaidCall): Promise<Authorization> {
    const { voucher } = call;
    if (voucher.modelId !== call.modelId) {
      throw new PaymentRefusedError("voucher_wrong_lane", "the voucher pays another model's lane", {
        voucherModelId: voucher.modelId,
        modelId: call.modelId,
      });
    }
    let channel = await this.usableChannel(voucher.channelId);
    await this.catchUpWithChain(voucher.channelId, voucher.modelId);
    const payer = await this.signer(call, channel);
    // Checked after the awaits, so that a concurrent call for the same lane cannot also pass.
    this.checkSequence(call, this.lane(voucher.channelId, voucher.modelId));
    if (!this.covered(channel, voucher)) {
      // Re-read before refusing: the consumer may have just topped up.
      channel = await this.usableChannel(voucher.channelId, true);
      this.checkSequence(call, this.lane(voucher.channelId, voucher.modelId)); // another call may have won the lane meanwhile
      if (!this.covered(channel, voucher)) {
        const required = this.committedIn(channel.channelId) + this.increase(voucher);
        throw new PaymentRefusedError(
          "insufficient_channel_balance",
          "the channel's deposit does not cover this call; top it up",
          { deposited: channel.deposited, required },
        );
      }
    }
    const previous = this.lane(voucher.channelId, voucher.modelId);
    const accepted: LaneState = {
      cumulativeAmount: voucher.cumulativeAmount,
      cumulativeCalls: voucher.cumulativeCalls,
      transcriptHash: voucher.transcriptHash,
      signature: call.signature,
    };
    this.setLane(voucher.channelId, voucher.modelId, previous, accepted);
    return { payer, previous, accepted };
  }

  /** Undoes an authorization whose call was not served, unless a later voucher came since. */
  rollback(voucher: Voucher, authorization: Authorization): void {
    const key = laneKey(voucher.channelId, voucher.modelId);
    if (this.lanes.get(key) !== authorization.accepted) return;
    this.setLane(voucher.channelId, voucher.modelId, authorization.accepted, authorization.previous);
  }

  /**
   * Brings a lane of an existing channel up to the chain before its state is offered to a
   * consumer (the unpaid probe of the 402 flow); a channel that does not exist is left alone.
   */
  async syncLaneWithChain(channelId: bigint, modelId: bigint): Promise<void> {
    if (await this.source.channel(channelId)) await this.catchUpWithChain(channelId, modelId);
  }

  /**
   * Reports what the chain has paid in a lane (a settlement seen on-chain, by this runner or
   * another on the same key). When it is ahead of what the gate has accepted, the lane takes the
   * chain's state, so that vouchers up to it are refused as stale instead of served unpaid; the
   * replaced state is returned (for a warning), null when the gate was not behind.
   */
  observeSettledLane(channelId: bigint, modelId: bigint, settled: SettledLane): LaneState | null {
    const key = laneKey(channelId, modelId);
    this.checkedAgainstChain.add(key);
    this.chainRetryAt.delete(key);
    return this.adoptIfAhead(channelId, modelId, settled);
  }

  /**
   * On a lane's first call since start: brings it up to what the chain has paid (adoptIfAhead);
   * later settlements come through observeSettledLane. While the chain cannot be read, a lane the
   * journal knows is served on that (and the chain asked again only after CHAIN_RETRY_MS); a lane
   * it does not know waits for the chain, as an unknown channel does.
   */
  private async catchUpWithChain(channelId: bigint, modelId: bigint): Promise<void> {
    const key = laneKey(channelId, modelId);
    if (this.checkedAgainstChain.has(key)) return;
    if (Date.now() < (this.chainRetryAt.get(key) ?? 0)) return; // served on the journal meanwhile
    let settled: SettledLane;
    try {
      settled = await this.source.settledLane(channelId, modelId);
    } catch (error) {
      if (!this.lanes.has(key)) throw error;
      // Not on every call: an RPC that hangs would add its timeout to each of them.
      this.chainRetryAt.set(key, Date.now() + CHAIN_RETRY_MS);
      return;
    }
    this.observeSettledLane(channelId, modelId, settled);
  }

  /**
   * If the chain has paid more calls or more in a lane than its accepted state, the lane takes
   * the chain's state (the greater of each), so that its next voucher is one the contract will
   * pay. Its transcript is unknown (the chain keeps none), so the next voucher's transcript is
   * taken as signed.
   */
  private adoptIfAhead(channelId: bigint, modelId: bigint, settled: SettledLane): LaneState | null {
    const local = this.lane(channelId, modelId);
    if (settled.paidCalls <= local.cumulativeCalls && settled.paidAmount <= local.cumulativeAmount)
      return null;
    this.setLane(channelId, modelId, local, {
      cumulativeAmount: max(settled.paidAmount, local.cumulativeAmount),
      cumulativeCalls: max(settled.paidCalls, local.cumulativeCalls),
      transcriptHash: null,
      signature: null,
    });
    return local;
  }

  private increase(voucher: Voucher): bigint {
    return voucher.cumulativeAmount - this.lane(voucher.channelId, voucher.modelId).cumulativeAmount;
  }

  /** The channel's lanes together, with this voucher, stay within what was deposited. */
  private covered(channel: ChannelSnapshot, voucher: Voucher): boolean {
    return this.committedIn(channel.channelId) + this.increase(voucher) <= channel.deposited;
  }

  private async usableChannel(channelId: bigint, fresh = false): Promise<ChannelSnapshot> {
    const channel = await this.source.channel(channelId, { fresh });
    if (!channel) throw new PaymentRefusedError("channel_unusable", `channel ${channelId} does not exist`);
    if (channel.runner.toLowerCase() !== this.runner.toLowerCase()) {
      throw new PaymentRefusedError("channel_unusable", `channel ${channelId} pays another runner`, {
        runner: channel.runner,
      });
    }
    if (channel.closing) throw new PaymentRefusedError("channel_unusable", `channel ${channelId} is closing`);
    return channel;
  }

  /**
   * The consumer, if it signed the voucher as PaymentChannels._checkSigner requires: an ECDSA
   * signature (native, on the signature thread) by the consumer or a session key, or else, for a
   * consumer with code, its ERC-1271 approval (an eth_call, only on this rarer path).
   */
  private async signer(call: PaidCall, channel: ChannelSnapshot): Promise<Address> {
    let recovered: Address | null = null;
    let problem: string | null = null;
    try {
      recovered = await this.verifier.recoverSigner(call.voucher, call.signature);
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error; // the runner's fault, not the voucher's
      problem = error.message;
    }
    if (recovered && this.maySign(channel, recovered)) return channel.consumer;
    const approved = await this.contractApproves(call, channel);
    if (approved) return channel.consumer;
    const message =
      problem ??
      "the voucher is not signed by the channel's consumer or session key (or was signed for another chain or contract)";
    throw new PaymentRefusedError(
      "voucher_wrong_signer",
      approved === false
        ? `the consumer is a contract whose ERC-1271 isValidSignature does not approve this signature, and ${message}`
        : message,
      recovered ? { recovered } : {},
    );
  }

  private maySign(channel: ChannelSnapshot, signer: Address): boolean {
    if (channel.signers.some((allowed) => sameAddress(allowed, signer))) return true;
    const previous = channel.previousSessionKey;
    // The contract's rule, block.timestamp < previousKeyValidUntil, on this machine's clock.
    return (
      previous !== undefined &&
      sameAddress(previous.address, signer) &&
      BigInt(Math.floor(Date.now() / 1000)) < previous.validUntil
    );
  }

  /** The consumer contract's ERC-1271 answer; null where there is none to ask. */
  private async contractApproves(call: PaidCall, channel: ChannelSnapshot): Promise<boolean | null> {
    if (!this.source.contractApproves) return null;
    let digest: Uint8Array;
    try {
      digest = this.verifier.digest(call.voucher);
    } catch (error) {
      if (error instanceof SignatureError) return null; // a field out of range: no digest to approve
      throw error;
    }
    if (!/^0x([0-9a-fA-F]{2})*$/.test(call.signature)) return null; // not bytes: never reaches the wallet
    return this.source.contractApproves(channel.consumer, bytesToHexFast(digest), call.signature);
  }

  private checkSequence(call: PaidCall, previous: LaneState): void {
    const { voucher } = call;
    if (voucher.cumulativeCalls !== previous.cumulativeCalls + 1n) {
      throw new PaymentRefusedError("voucher_stale", "the voucher is not the next one of its lane", {
        expectedCalls: previous.cumulativeCalls + 1n,
        signedCalls: voucher.cumulativeCalls,
      });
    }
    // PaymentChannels only redeems a voucher that is strictly newer in amount too, so even a free
    // model's voucher must raise the amount by one unit, or its settlement would revert.
    const minimum = call.price > 0n ? call.price : 1n;
    if (voucher.cumulativeAmount - previous.cumulativeAmount < minimum) {
      throw new PaymentRefusedError("voucher_underpaid", "the voucher pays less than the model's price", {
        price: minimum,
        paid: voucher.cumulativeAmount - previous.cumulativeAmount,
      });
    }
    const { transcriptHash } = previous;
    if (
      transcriptHash !== null &&
      voucher.transcriptHash !== extendTranscriptNative(transcriptHash, call.requestHash)
    ) {
      throw new PaymentRefusedError(
        "transcript_mismatch",
        "the transcript does not extend the lane's by this request",
      );
    }
  }
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);
/** Plain comparison: viem's isAddressEqual validates checksums, too slow for every call. */
const sameAddress = (a: Address, b: Address) => a.toLowerCase() === b.toLowerCase();

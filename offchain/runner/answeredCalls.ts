/**
 * Each lane's latest journaled call, so that a consumer whose answer was lost on the way (a
 * dropped connection; a runner killed between the journal write and the reply) gets it again by
 * sending the same request with the same voucher, without paying twice (docs/protocol/http-402.md).
 * Only the latest call of a lane: a consumer that signed a later voucher has moved on. A call
 * still in flight (accepted, not yet journaled) is waited for, so that a retry that overtakes
 * its own first try is answered too.
 */
import type { Address, Hex } from "viem";
import type { Voucher } from "../../sdk/protocol/typedData";
import type { CallRecord } from "./settlement/batchPlan";

export interface AnsweredCall {
  record: CallRecord;
  payer: Address;
  /** How often its answer was given again. */
  redeliveries: number;
}

interface InFlight {
  signature: Hex;
  done: Promise<void>;
}

const laneKey = (voucher: Voucher) => `${voucher.channelId}:${voucher.modelId}`;

const sameVoucher = (a: Voucher, b: Voucher) =>
  a.channelId === b.channelId &&
  a.modelId === b.modelId &&
  a.cumulativeAmount === b.cumulativeAmount &&
  a.cumulativeCalls === b.cumulativeCalls &&
  a.transcriptHash.toLowerCase() === b.transcriptHash.toLowerCase();

export class AnsweredCalls {
  private readonly latest = new Map<string, AnsweredCall>();
  private readonly inFlight = new Map<string, InFlight>();

  /** Learns a journaled call (on start, in journal order, or once a call is journaled). */
  add(record: CallRecord, payer: Address): void {
    const key = laneKey(record.voucher);
    const current = this.latest.get(key);
    if (current && current.record.receipt.callIndex >= record.receipt.callIndex) return;
    this.latest.set(key, { record, payer, redeliveries: 0 });
  }

  /**
   * Marks a lane's accepted voucher as in flight until the returned function is called: with
   * the journaled record, or null when the call was rolled back.
   */
  begin(voucher: Voucher, signature: Hex, payer: Address): (record: CallRecord | null) => void {
    const key = laneKey(voucher);
    let finish = () => {};
    const entry: InFlight = { signature, done: new Promise<void>((resolve) => (finish = resolve)) };
    this.inFlight.set(key, entry);
    return (record) => {
      if (record) this.add(record, payer);
      if (this.inFlight.get(key) === entry) this.inFlight.delete(key);
      finish();
    };
  }

  /**
   * The journaled call that exactly this payment (voucher, signature, request) paid for, if it
   * is its lane's latest; null otherwise. Waits for the lane's call in flight with the same
   * signature; a later voucher in flight means this one is no longer the latest.
   */
  async find(voucher: Voucher, signature: Hex, requestHash: Hex): Promise<AnsweredCall | null> {
    const key = laneKey(voucher);
    const pending = this.inFlight.get(key);
    if (pending) {
      if (pending.signature.toLowerCase() !== signature.toLowerCase()) return null;
      await pending.done;
    }
    const call = this.latest.get(key);
    if (!call || this.inFlight.has(key)) return null;
    const { record } = call;
    const matches =
      record.voucherSignature.toLowerCase() === signature.toLowerCase() &&
      record.receipt.requestHash.toLowerCase() === requestHash.toLowerCase() &&
      sameVoucher(record.voucher, voucher);
    return matches ? call : null;
  }
}

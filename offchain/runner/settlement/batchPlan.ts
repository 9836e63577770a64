/**
 * What the runner settles next, derived from its journal of paid calls and the lanes' state
 * on-chain: for every lane whose latest accepted voucher is newer than what the chain has paid,
 * the latest voucher, the receipts of the calls it pays for, and the per-model totals that
 * `Settlement.settle` checks against the voucher deltas. Deriving the batch from chain state is
 * what makes settlement idempotent: after a crash, a reorg or a lost transaction, the next plan
 * contains exactly what is still unpaid, never anything twice.
 */
import type { Hex } from "viem";
import type { Receipt, Voucher } from "../../../sdk/protocol/typedData";
import { receiptLeafNative } from "../../payments/nativeHashes";
import { type LaneKey, laneId } from "./laneKey";
import { ReceiptTree } from "./receiptTree";

export { type LaneKey, laneId };

export interface CallRecord {
  receipt: Receipt;
  voucher: Voucher;
  voucherSignature: Hex;
  /**
   * The receipt's Merkle leaf, once hashed: by the signature thread with the receipt's
   * signature, or by the settler for calls read back from the journal (which does not hold it).
   */
  leaf?: Hex;
}

export interface LanePaid {
  paidAmount: bigint;
  paidCalls: bigint;
}

export interface BatchPlan {
  root: Hex;
  tree: ReceiptTree;
  /** In leaf order. */
  receipts: Receipt[];
  /** The same receipts, named by lane and call index. */
  ranges: LaneRange[];
  totals: { modelId: bigint; calls: bigint; amount: bigint }[];
  /** Grouped by model, as the contract requires. */
  vouchers: (Voucher & { signature: Hex })[];
}

/**
 * A lane's journaled calls that are not known to be settled, in call-index order. Calls arrive
 * in that order but for the odd one overtaken by the next (a lane's next voucher may be accepted
 * while its call is still running), so finding a settlement's calls and dropping them is a
 * binary search and a slice, not a pass over every call.
 */
export class LaneCalls {
  private calls: CallRecord[] = [];

  get size(): number {
    return this.calls.length;
  }

  [Symbol.iterator](): Iterator<CallRecord> {
    return this.calls[Symbol.iterator]();
  }

  /** The call with the highest call index: its voucher pays for the whole lane. */
  get latest(): CallRecord | undefined {
    return this.calls.at(-1);
  }

  /** The call with the lowest call index: the oldest not known to be settled. */
  get first(): CallRecord | undefined {
    return this.calls[0];
  }

  add(call: CallRecord): void {
    const index = call.receipt.callIndex;
    const last = this.calls.at(-1);
    if (!last || last.receipt.callIndex < index) {
      this.calls.push(call);
      return;
    }
    const at = this.position(index);
    if (this.calls[at]?.receipt.callIndex === index) this.calls[at] = call;
    else this.calls.splice(at, 0, call);
  }

  /** The calls with call index in (after, through]. */
  between(after: bigint, through: bigint): CallRecord[] {
    return this.calls.slice(this.position(after + 1n), this.position(through + 1n));
  }

  /** Drops the calls with call index up to `through`; returns how many there were. */
  dropThrough(through: bigint): number {
    const end = this.position(through + 1n);
    this.calls = this.calls.slice(end);
    return end;
  }

  /** The first position whose call index is at least `index`. */
  private position(index: bigint): number {
    let low = 0;
    let high = this.calls.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.calls[middle] as CallRecord).receipt.callIndex < index) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

export type LaneIndex = Map<string, LaneCalls>;

/** Adds a call to its lane in `lanes`. */
export function addToLanes(lanes: LaneIndex, call: CallRecord): void {
  const id = laneId(call.voucher);
  let lane = lanes.get(id);
  if (!lane) {
    lane = new LaneCalls();
    lanes.set(id, lane);
  }
  lane.add(call);
}

/** The calls by lane. */
export function indexCalls(calls: Iterable<CallRecord>): LaneIndex {
  const lanes: LaneIndex = new Map();
  for (const call of calls) addToLanes(lanes, call);
  return lanes;
}

/** A batch's receipts as runs of call indices per lane, in leaf order: what a journal records. */
export interface LaneRange extends LaneKey {
  fromCall: bigint;
  toCall: bigint;
}

/**
 * A lane as a plan sees it: its calls, and the latest of them when the plan began. Calls that
 * arrive later (while the plan reads the chain) are past `latest`, left for the next plan.
 */
export interface LaneSnapshot {
  lane: LaneCalls;
  latest: CallRecord;
}

/** Each lane of `lanes` with its latest call as it is now. */
export function snapshotLanes(lanes: Iterable<LaneCalls>): LaneSnapshot[] {
  return [...lanes].flatMap((lane) => (lane.latest ? [{ lane, latest: lane.latest }] : []));
}

/**
 * Plans the next batch over at most `maxLanes` lanes (oldest model ids first), or null when
 * nothing is unpaid. `paid` gives each lane's on-chain state. Given a snapshot, the plan pays
 * each lane through its snapshot's latest call, whatever was added to the lanes since.
 */
export async function planBatch(
  lanes: LaneIndex | readonly LaneSnapshot[],
  paid: (lane: LaneKey) => LanePaid,
  maxLanes = 50,
): Promise<BatchPlan | null> {
  const snapshot = lanes instanceof Map ? snapshotLanes(lanes.values()) : lanes;
  const unpaid = snapshot
    .filter(({ latest }) => latest.voucher.cumulativeCalls > paid(latest.voucher).paidCalls)
    .sort((x, y) => compare(x.latest.voucher, y.latest.voucher))
    .slice(0, maxLanes);
  if (unpaid.length === 0) return null;

  const receipts: Receipt[] = [];
  const leaves: Hex[] = [];
  const ranges: LaneRange[] = [];
  const totals = new Map<bigint, { modelId: bigint; calls: bigint; amount: bigint }>();
  for (const { lane, latest } of unpaid) {
    const { voucher } = latest;
    const onChain = paid(voucher);
    // Every call up to the latest voucher was journaled before it was answered.
    for (const call of lane.between(onChain.paidCalls, voucher.cumulativeCalls)) {
      receipts.push(call.receipt);
      leaves.push(leafOf(call));
    }
    ranges.push({
      channelId: voucher.channelId,
      modelId: voucher.modelId,
      fromCall: onChain.paidCalls + 1n,
      toCall: voucher.cumulativeCalls,
    });
    const total = totals.get(voucher.modelId) ?? { modelId: voucher.modelId, calls: 0n, amount: 0n };
    total.calls += voucher.cumulativeCalls - onChain.paidCalls;
    total.amount += voucher.cumulativeAmount - onChain.paidAmount;
    totals.set(voucher.modelId, total);
  }
  const tree = await ReceiptTree.build(leaves);
  return {
    root: tree.root,
    tree,
    receipts,
    ranges,
    totals: [...totals.values()],
    vouchers: unpaid.map(({ latest }) => ({ ...latest.voucher, signature: latest.voucherSignature })),
  };
}

function compare(a: LaneKey, b: LaneKey): number {
  if (a.modelId !== b.modelId) return a.modelId < b.modelId ? -1 : 1;
  if (a.channelId !== b.channelId) return a.channelId < b.channelId ? -1 : 1;
  return 0;
}

/** A call's receipt's Merkle leaf, hashed once. */
export function leafOf(call: CallRecord): Hex {
  call.leaf ??= receiptLeafNative(call.receipt);
  return call.leaf;
}

/** Leaves hashed per turn of the event loop (two hashes each). */
const LEAVES_PER_TURN = 256;

/**
 * The Merkle tree of a batch read back from the journal, hashed natively: its leaves in slices,
 * between which calls keep flowing (thousands of receipts take milliseconds), then the tree.
 */
export async function buildReceiptTree(receipts: readonly Receipt[]): Promise<ReceiptTree> {
  const leaves: Hex[] = [];
  for (let from = 0; from < receipts.length; from += LEAVES_PER_TURN) {
    if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    for (const receipt of receipts.slice(from, from + LEAVES_PER_TURN))
      leaves.push(receiptLeafNative(receipt));
  }
  return ReceiptTree.build(leaves);
}

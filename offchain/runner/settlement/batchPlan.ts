/**
 * What the runner settles next, derived from its journal of paid calls and the lanes' state
 * on-chain: for every lane whose latest accepted voucher is newer than what the chain has paid,
 * the latest voucher, the receipts of the calls it pays for, and the per-model totals that
 * `Settlement.settle` checks against the voucher deltas. Deriving the batch from chain state is
 * what makes settlement idempotent: after a crash, a reorg or a lost transaction, the next plan
 * contains exactly what is still unpaid, never anything twice.
 */
import type { Hex } from "viem";
import { MerkleTree } from "../../../sdk/protocol/merkle";
import type { Receipt, Voucher } from "../../../sdk/protocol/typedData";
import { keccak256HexNative, receiptLeafNative } from "../../payments/nativeHashes";

export interface CallRecord {
  receipt: Receipt;
  voucher: Voucher;
  voucherSignature: Hex;
}

export interface LanePaid {
  paidAmount: bigint;
  paidCalls: bigint;
}

export interface LaneKey {
  channelId: bigint;
  modelId: bigint;
}

export interface BatchPlan {
  root: Hex;
  tree: MerkleTree;
  /** In leaf order. */
  receipts: Receipt[];
  totals: { modelId: bigint; calls: bigint; amount: bigint }[];
  /** Grouped by model, as the contract requires. */
  vouchers: (Voucher & { signature: Hex })[];
}

export const laneId = (lane: LaneKey) => `${lane.channelId}:${lane.modelId}`;

/** The latest journaled call of every lane, with all calls of the lane by call index. */
export function indexCalls(calls: Iterable<CallRecord>) {
  const lanes = new Map<string, { latest: CallRecord; byIndex: Map<bigint, CallRecord> }>();
  for (const call of calls) {
    const id = laneId(call.voucher);
    const lane = lanes.get(id) ?? { latest: call, byIndex: new Map() };
    lane.byIndex.set(call.receipt.callIndex, call);
    if (call.voucher.cumulativeCalls >= lane.latest.voucher.cumulativeCalls) lane.latest = call;
    lanes.set(id, lane);
  }
  return lanes;
}

/**
 * Plans the next batch over at most `maxLanes` lanes (oldest model ids first), or null when
 * nothing is unpaid. `paid` gives each lane's on-chain state.
 */
export async function planBatch(
  lanes: ReturnType<typeof indexCalls>,
  paid: (lane: LaneKey) => LanePaid,
  maxLanes = 50,
): Promise<BatchPlan | null> {
  const unpaid = [...lanes.values()]
    .filter(({ latest }) => latest.voucher.cumulativeCalls > paid(latest.voucher).paidCalls)
    .sort((x, y) => compare(x.latest.voucher, y.latest.voucher))
    .slice(0, maxLanes);
  if (unpaid.length === 0) return null;

  const receipts: Receipt[] = [];
  const totals = new Map<bigint, { modelId: bigint; calls: bigint; amount: bigint }>();
  for (const { latest, byIndex } of unpaid) {
    const { voucher } = latest;
    const onChain = paid(voucher);
    for (let index = onChain.paidCalls + 1n; index <= voucher.cumulativeCalls; index++) {
      const call = byIndex.get(index);
      // Every call up to the latest voucher was journaled before it was answered.
      if (call) receipts.push(call.receipt);
    }
    const total = totals.get(voucher.modelId) ?? { modelId: voucher.modelId, calls: 0n, amount: 0n };
    total.calls += voucher.cumulativeCalls - onChain.paidCalls;
    total.amount += voucher.cumulativeAmount - onChain.paidAmount;
    totals.set(voucher.modelId, total);
  }
  const tree = await buildReceiptTree(receipts);
  return {
    root: tree.root,
    tree,
    receipts,
    totals: [...totals.values()],
    vouchers: unpaid.map(({ latest }) => ({ ...latest.voucher, signature: latest.voucherSignature })),
  };
}

function compare(a: LaneKey, b: LaneKey): number {
  if (a.modelId !== b.modelId) return a.modelId < b.modelId ? -1 : 1;
  if (a.channelId !== b.channelId) return a.channelId < b.channelId ? -1 : 1;
  return 0;
}

const leaves = new WeakMap<Receipt, Hex>();

/** Remembers a leaf hashed elsewhere (the signature thread hashes it with the receipt's signature). */
export function rememberLeaf(receipt: Receipt, leaf: Hex): void {
  leaves.set(receipt, leaf);
}

/**
 * A receipt's Merkle leaf, remembered: each receipt is hashed once, when its call is answered
 * (or, for calls restored from the journal, when the settler takes them in), so that building a
 * batch's tree does not hash them again.
 */
export function receiptLeafOf(receipt: Receipt): Hex {
  let leaf = leaves.get(receipt);
  if (!leaf) {
    leaf = receiptLeafNative(receipt);
    leaves.set(receipt, leaf);
  }
  return leaf;
}

/** Leaves hashed per turn of the event loop when they are not known already (two hashes each). */
const LEAVES_PER_TURN = 256;

/**
 * A batch's Merkle tree, hashed natively. Thousands of receipts take tens of milliseconds to
 * hash, so their leaves (those not already known) and the tree are hashed in slices, between
 * which calls keep flowing.
 */
export async function buildReceiptTree(receipts: readonly Receipt[]): Promise<MerkleTree> {
  const leaves: Hex[] = [];
  for (let from = 0; from < receipts.length; from += LEAVES_PER_TURN) {
    if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    for (const receipt of receipts.slice(from, from + LEAVES_PER_TURN)) leaves.push(receiptLeafOf(receipt));
  }
  return MerkleTree.build(leaves, keccak256HexNative);
}

import { type Hex, keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { receiptLeaf, verifyMerkleProof } from "../../../sdk/protocol/merkle";
import { EMPTY_TRANSCRIPT, extendTranscript } from "../../../sdk/protocol/typedData";
import {
  addToLanes,
  type CallRecord,
  indexCalls,
  LaneCalls,
  type LaneKey,
  type LanePaid,
  laneId,
  planBatch,
  snapshotLanes,
} from "./batchPlan";

const SIG = `0x${"11".repeat(65)}` as Hex;

/** `count` consecutive calls of a lane at `price` each. */
function laneCalls(channelId: bigint, modelId: bigint, count: number, price: bigint): CallRecord[] {
  let transcript = EMPTY_TRANSCRIPT;
  return Array.from({ length: count }, (_, i) => {
    const callIndex = BigInt(i + 1);
    const requestHash = keccak256(toHex(`${channelId}/${modelId}/${callIndex}`));
    transcript = extendTranscript(transcript, requestHash);
    return {
      receipt: {
        requestHash,
        modelId,
        adapterHash: keccak256(toHex(`adapter ${modelId}`)),
        outputHash: requestHash,
        channelId,
        callIndex,
      },
      voucher: {
        channelId,
        modelId,
        cumulativeAmount: callIndex * price,
        cumulativeCalls: callIndex,
        transcriptHash: transcript,
      },
      voucherSignature: SIG,
    };
  });
}

const nothingPaid = (): LanePaid => ({ paidAmount: 0n, paidCalls: 0n });

describe("planBatch", () => {
  it("settles the latest voucher of every lane, grouped by model, with totals and every receipt", async () => {
    const calls = [...laneCalls(1n, 2n, 3, 10n), ...laneCalls(1n, 1n, 2, 5n), ...laneCalls(2n, 2n, 4, 10n)];
    const plan = await planBatch(indexCalls(calls), nothingPaid);
    expect(plan?.vouchers.map((v) => [v.modelId, v.channelId, v.cumulativeCalls])).toEqual([
      [1n, 1n, 2n],
      [2n, 1n, 3n],
      [2n, 2n, 4n],
    ]);
    expect(plan?.totals).toEqual([
      { modelId: 1n, calls: 2n, amount: 10n },
      { modelId: 2n, calls: 7n, amount: 70n },
    ]);
    expect(plan?.receipts).toHaveLength(9);
    expect(plan?.ranges).toEqual([
      { channelId: 1n, modelId: 1n, fromCall: 1n, toCall: 2n },
      { channelId: 1n, modelId: 2n, fromCall: 1n, toCall: 3n },
      { channelId: 2n, modelId: 2n, fromCall: 1n, toCall: 4n },
    ]);
    plan?.receipts.forEach((receipt, i) => {
      expect(verifyMerkleProof(receiptLeaf(receipt), plan.tree.proof(i), plan.root)).toBe(true);
    });
  });

  it("plans a snapshot's lanes through their latest call then, whatever joined the lanes since", async () => {
    const [first, second, third] = laneCalls(1n, 1n, 3, 5n);
    const lanes = indexCalls([first, second] as CallRecord[]);
    const snapshot = snapshotLanes(lanes.values());
    addToLanes(lanes, third as CallRecord); // answered while the plan read the chain
    addToLanes(lanes, laneCalls(2n, 1n, 1, 5n)[0] as CallRecord); // a lane the plan never read
    const plan = await planBatch(snapshot, nothingPaid);
    expect(plan?.ranges).toEqual([{ channelId: 1n, modelId: 1n, fromCall: 1n, toCall: 2n }]);
    expect(plan?.totals).toEqual([{ modelId: 1n, calls: 2n, amount: 10n }]);
    expect(plan?.vouchers.map((v) => v.cumulativeCalls)).toEqual([2n]);
  });

  it("settles only what the chain has not paid, and nothing when all is paid", async () => {
    const calls = [...laneCalls(1n, 1n, 5, 7n), ...laneCalls(3n, 1n, 2, 7n)];
    const onChain = new Map<string, LanePaid>([["1:1", { paidAmount: 21n, paidCalls: 3n }]]);
    const paid = (lane: LaneKey) => onChain.get(laneId(lane)) ?? nothingPaid();
    const plan = await planBatch(indexCalls(calls), paid);
    expect(plan?.totals).toEqual([{ modelId: 1n, calls: 4n, amount: 28n }]);
    expect(plan?.receipts.map((r) => [r.channelId, r.callIndex])).toEqual([
      [1n, 4n],
      [1n, 5n],
      [3n, 1n],
      [3n, 2n],
    ]);
    expect(plan?.ranges.map((r) => [r.channelId, r.fromCall, r.toCall])).toEqual([
      [1n, 4n, 5n],
      [3n, 1n, 2n],
    ]);
    onChain.set("1:1", { paidAmount: 35n, paidCalls: 5n });
    onChain.set("3:1", { paidAmount: 14n, paidCalls: 2n });
    expect(await planBatch(indexCalls(calls), paid)).toBeNull();
  });

  it("caps the number of lanes per batch and leaves the rest for the next", async () => {
    const calls = [1n, 2n, 3n].flatMap((channel) => laneCalls(channel, 1n, 1, 1n));
    expect((await planBatch(indexCalls(calls), nothingPaid, 2))?.vouchers).toHaveLength(2);
  });
});

describe("LaneCalls", () => {
  const indices = (calls: CallRecord[]) => calls.map((call) => call.receipt.callIndex);

  it("keeps a lane's calls in call-index order when one overtakes another, and a journaled call once", () => {
    const calls = laneCalls(1n, 1n, 6, 1n);
    const lane = new LaneCalls();
    for (const i of [0, 1, 3, 2, 5, 4, 3]) lane.add(calls[i] as CallRecord);
    expect(lane.size).toBe(6);
    expect(indices([...lane])).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(lane.latest?.receipt.callIndex).toBe(6n);
  });

  it("gives the calls between two call indices and drops the settled ones", () => {
    const lane = new LaneCalls();
    for (const call of laneCalls(1n, 1n, 8, 1n)) lane.add(call);
    expect(indices(lane.between(2n, 5n))).toEqual([3n, 4n, 5n]);
    expect(indices(lane.between(0n, 100n))).toHaveLength(8);
    expect(lane.between(8n, 9n)).toEqual([]);
    expect(lane.dropThrough(5n)).toBe(5);
    expect(indices([...lane])).toEqual([6n, 7n, 8n]);
    expect(lane.dropThrough(5n)).toBe(0);
    expect(lane.dropThrough(8n)).toBe(3);
    expect(lane.latest).toBeUndefined();
  });
});

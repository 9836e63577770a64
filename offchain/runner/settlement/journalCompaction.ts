/**
 * What a runner's journal must keep so that a restart comes back as it was, minus what is
 * settled and no longer wanted: otherwise the journal grows by a record per paid call for the
 * runner's whole life, and every start reads it all back.
 *
 * Kept, in their order: every call not paid by a settled batch; the latest batch records that
 * hold at most `keepReceipts` receipts together (at least the last one), with the calls they
 * paid: the receipts whose proofs the runner still serves (see keptBatches); signed
 * settlements without a recorded outcome that could still be mined. Before them, one `lane`
 * record per lane with its latest accepted voucher, from which the payment gate learns again
 * what each lane has accepted, so a replayed voucher stays refused after its calls are gone.
 */
import { Worker } from "node:worker_threads";
import type { Hex } from "viem";
import type { Receipt, Voucher } from "../../../sdk/protocol/typedData";
import { encodeRecords, type JournalPrefix, type JournalRecord, readJournalPrefix } from "../journal";
// Type-only but for laneKey: the compaction thread loads no more than it needs (see laneKey.ts).
import type { CallRecord, LaneRange } from "./batchPlan";
import { laneId } from "./laneKey";

/** A lane's latest accepted voucher, kept when its calls are compacted away. */
export type LaneVoucherRecord = {
  type: "lane";
  voucher: Voucher;
  voucherSignature: Hex;
};

type BatchRecord = JournalRecord & {
  txHash: Hex;
  ranges?: LaneRange[];
  requestHashes?: Hex[];
  receipts?: Receipt[];
};

const WORKER_ENTRY = new URL("./journalCompaction.worker.mjs", import.meta.url);

/**
 * The compacted journal prefix's bytes, for Journal.rewrite, computed on a thread of its own:
 * reading back and encoding a large journal takes seconds that serving should not wait for.
 */
export function compactOnWorker(prefix: JournalPrefix, keepReceipts: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_ENTRY, { workerData: { prefix, keepReceipts } });
    worker.once("message", (head: Uint8Array) => {
      resolve(head);
      void worker.terminate();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`journal compaction thread exited with code ${code}`)));
  });
}

/** The compacted journal prefix's bytes (what the compaction thread runs). */
export function compactPrefix(prefix: JournalPrefix, keepReceipts: number): Uint8Array {
  return encodeRecords(compactRecords(readJournalPrefix(prefix), keepReceipts));
}

export function compactRecords(records: readonly JournalRecord[], keepReceipts: number): JournalRecord[] {
  const paidThrough = batchesPaidThrough(records);
  const batchPositions = [...paidThrough.keys()];
  const receiptCounts = batchPositions.map((i) => batchReceiptCount(records[i] as BatchRecord));
  const firstKept =
    batchPositions[batchPositions.length - keptBatches(receiptCounts, keepReceipts)] ?? records.length;
  const resolved = new Set(batchPositions.map((i) => (records[i] as BatchRecord).txHash.toLowerCase()));
  const lastMinedNonce = Math.max(
    -1,
    ...records
      .filter((r) => r.type === "settle-signed" && resolved.has(String(r.txHash).toLowerCase()))
      .map((r) => Number(r.nonce)),
  );

  // Backwards: a call is dropped when a batch after it, older than the kept ones, paid its lane
  // through its call index (batches are in sequence order, so that batch or an earlier one did).
  const droppedThrough = new Map<string, bigint>();
  const kept: JournalRecord[] = [];
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i] as JournalRecord;
    if (record.type === "batch") {
      if (i >= firstKept) kept.push(record);
      else
        for (const [lane, through] of paidThrough.get(i) ?? [])
          if (through > (droppedThrough.get(lane) ?? 0n)) droppedThrough.set(lane, through);
    } else if (record.type === "call") {
      const { receipt } = record as unknown as CallRecord;
      if (receipt.callIndex > (droppedThrough.get(laneId(receipt)) ?? 0n)) kept.push(record);
    } else if (record.type === "settle-signed") {
      const mined = resolved.has(String(record.txHash).toLowerCase());
      if (!mined && Number(record.nonce) > lastMinedNonce) kept.push(record);
    } else if (record.type !== "lane") kept.push(record);
  }
  return [...latestVouchers(records), ...kept.reverse()];
}

/**
 * How many of the latest batches, of these receipt counts, to keep: as many as hold at most
 * `keepReceipts` receipts together, and at least the last.
 */
export function keptBatches(receiptCounts: readonly number[], keepReceipts: number): number {
  let kept = 0;
  let receipts = 0;
  for (let i = receiptCounts.length - 1; i >= 0; i--) {
    receipts += receiptCounts[i] as number;
    if (kept > 0 && receipts > keepReceipts) break;
    kept++;
  }
  return kept;
}

function batchReceiptCount(batch: BatchRecord): number {
  if (batch.ranges) return batch.ranges.reduce((n, r) => n + Number(r.toCall - r.fromCall + 1n), 0);
  return (batch.receipts ?? batch.requestHashes ?? []).length;
}

/** Each batch record's position, with how far it paid each lane it settled. */
function batchesPaidThrough(records: readonly JournalRecord[]): Map<number, Map<string, bigint>> {
  // Only journals with batch records by request hash (as earlier runners wrote them) need this map.
  const byRequestHash = records.some((r) => r.type === "batch" && "requestHashes" in r)
    ? new Map<string, Receipt>()
    : null;
  const batches = new Map<number, Map<string, bigint>>();
  records.forEach((record, i) => {
    if (byRequestHash && record.type === "call") {
      const { receipt } = record as unknown as CallRecord;
      byRequestHash.set(receipt.requestHash.toLowerCase(), receipt);
    }
    if (record.type !== "batch") return;
    const batch = record as BatchRecord;
    const through = new Map<string, bigint>();
    const raise = (lane: string, call: bigint) => {
      if (call > (through.get(lane) ?? 0n)) through.set(lane, call);
    };
    // Records name what they paid by lane ranges; older ones by request hash, or whole receipts.
    for (const range of batch.ranges ?? []) raise(laneId(range), range.toCall);
    const receipts =
      batch.receipts ?? (batch.requestHashes ?? []).map((h) => byRequestHash?.get(h.toLowerCase()));
    for (const receipt of receipts) if (receipt) raise(laneId(receipt), receipt.callIndex);
    batches.set(i, through);
  });
  return batches;
}

/** One `lane` record per lane: the voucher with the most calls among its calls and lane records. */
function latestVouchers(records: readonly JournalRecord[]): LaneVoucherRecord[] {
  const latest = new Map<string, LaneVoucherRecord>();
  for (const record of records) {
    if (record.type !== "call" && record.type !== "lane") continue;
    const { voucher, voucherSignature } = record as unknown as LaneVoucherRecord;
    const id = laneId(voucher);
    const known = latest.get(id);
    if (!known || voucher.cumulativeCalls > known.voucher.cumulativeCalls)
      latest.set(id, { type: "lane", voucher, voucherSignature });
  }
  return [...latest.values()];
}

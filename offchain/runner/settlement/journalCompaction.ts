/**
 * What a runner's journal must keep so that a restart comes back as it was, minus what is
 * settled and no longer wanted: otherwise the journal grows by a record per paid call for the
 * runner's whole life, and every start reads it all back.
 *
 * Kept, in their order: every call not paid by a settled batch; the latest batch records that
 * hold at most `keepReceipts` receipts together (at least the last one), with the calls they
 * paid: the receipts whose proofs the runner still serves (see keptBatches); signed
 * settlements without a recorded outcome that could still be mined; lanes set aside (`quarantine`)
 * that no batch paid past. Before them, one `lane`
 * record per lane with its latest accepted voucher, from which the payment gate learns again
 * what each lane has accepted, so a replayed voucher stays refused after its calls are gone.
 */
import { Worker } from "node:worker_threads";
import type { Hex } from "viem";
import type { Receipt, Voucher } from "../../../sdk/protocol/typedData";
import {
  encodeRecords,
  type JournalPrefix,
  type JournalRecord,
  journalBigint,
  readRawJournalPrefix,
} from "../journal";
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

/**
 * The compacted journal prefix's bytes (what the compaction thread runs). Records are parsed
 * without reviving their bigints, and those kept are copied as they lie: about two thirds of the
 * time of decoding them all as a restart does and encoding the kept ones (see bench:journal).
 */
export function compactPrefix(prefix: JournalPrefix, keepReceipts: number): Uint8Array {
  const { bytes, records, ends } = readRawJournalPrefix(prefix);
  const { lanes, kept } = planCompaction(records, keepReceipts);
  const line = (i: number) => bytes.subarray(ends[i - 1] ?? 0, ends[i]);
  // A raw voucher encodes as it was read: {"$bigint": …} objects are written as bigints are.
  return Buffer.concat([
    encodeRecords(lanes.map((i) => laneRecord(records[i] as JournalRecord))),
    ...kept.map(line),
  ]);
}

/** The records a compaction keeps, in order, after one `lane` record per lane. */
export function compactRecords(records: readonly JournalRecord[], keepReceipts: number): JournalRecord[] {
  const { lanes, kept } = planCompaction(records, keepReceipts);
  return [
    ...lanes.map((i) => laneRecord(records[i] as JournalRecord)),
    ...kept.map((i) => records[i] as JournalRecord),
  ];
}

/** What a compaction keeps, as record positions in order; and per lane, the record with its latest voucher. */
interface CompactionPlan {
  lanes: number[];
  kept: number[];
}

/** Records as read (revived or raw); bigints through journalBigint. */
function planCompaction(records: readonly JournalRecord[], keepReceipts: number): CompactionPlan {
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
  const kept: number[] = [];
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i] as JournalRecord;
    if (record.type === "batch") {
      if (i >= firstKept) kept.push(i);
      else
        for (const [lane, through] of paidThrough.get(i) ?? [])
          if (through > (droppedThrough.get(lane) ?? 0n)) droppedThrough.set(lane, through);
    } else if (record.type === "call") {
      const { receipt } = record as unknown as CallRecord;
      if (journalBigint(receipt.callIndex) > (droppedThrough.get(laneOf(receipt)) ?? 0n)) kept.push(i);
    } else if (record.type === "quarantine") {
      // A lane set aside through a call that a batch paid past since: the lane is whole again.
      const held = record as unknown as { channelId: unknown; modelId: unknown; throughCall: unknown };
      if (journalBigint(held.throughCall) > (droppedThrough.get(laneOf(held)) ?? 0n)) kept.push(i);
    } else if (record.type === "settle-signed") {
      const mined = resolved.has(String(record.txHash).toLowerCase());
      if (!mined && Number(record.nonce) > lastMinedNonce) kept.push(i);
    } else if (record.type !== "lane") kept.push(i);
  }
  return { lanes: latestVouchers(records), kept: kept.reverse() };
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
  if (batch.ranges)
    return batch.ranges.reduce(
      (n, r) => n + Number(journalBigint(r.toCall) - journalBigint(r.fromCall) + 1n),
      0,
    );
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
    for (const range of batch.ranges ?? []) raise(laneOf(range), journalBigint(range.toCall));
    const receipts =
      batch.receipts ?? (batch.requestHashes ?? []).map((h) => byRequestHash?.get(h.toLowerCase()));
    for (const receipt of receipts) if (receipt) raise(laneOf(receipt), journalBigint(receipt.callIndex));
    batches.set(i, through);
  });
  return batches;
}

/** Per lane, the position of the record (a call or lane record) with its most calls' voucher. */
function latestVouchers(records: readonly JournalRecord[]): number[] {
  const latest = new Map<string, { position: number; calls: bigint }>();
  records.forEach((record, position) => {
    if (record.type !== "call" && record.type !== "lane") return;
    const { voucher } = record as unknown as LaneVoucherRecord;
    const lane = laneOf(voucher);
    const calls = journalBigint(voucher.cumulativeCalls);
    const known = latest.get(lane);
    if (!known || calls > known.calls) latest.set(lane, { position, calls });
  });
  return [...latest.values()].map((v) => v.position);
}

/** The `lane` record of a call or lane record's voucher. */
function laneRecord(record: JournalRecord): LaneVoucherRecord {
  const { voucher, voucherSignature } = record as unknown as LaneVoucherRecord;
  return { type: "lane", voucher, voucherSignature };
}

/** A lane's id from its (revived or raw) channel and model ids. */
const laneOf = (lane: { channelId: unknown; modelId: unknown }) =>
  laneId({ channelId: journalBigint(lane.channelId), modelId: journalBigint(lane.modelId) });

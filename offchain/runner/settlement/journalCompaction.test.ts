import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Hex, keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { encodeRecord, encodeRecords, type JournalRecord, readJournal } from "../journal";
import type { CallRecord } from "./batchPlan";
import { compactOnWorker, compactPrefix, compactRecords, keptBatches } from "./journalCompaction";

const SIG = `0x${"11".repeat(65)}` as Hex;

/** The journal record of a lane's call `callIndex`, at 10 a call. */
function call(channelId: bigint, modelId: bigint, callIndex: bigint): JournalRecord {
  const requestHash = keccak256(toHex(`${channelId}/${modelId}/${callIndex}`));
  const record: CallRecord = {
    receipt: {
      requestHash,
      modelId,
      adapterHash: requestHash,
      outputHash: requestHash,
      channelId,
      callIndex,
    },
    voucher: {
      channelId,
      modelId,
      cumulativeAmount: 10n * callIndex,
      cumulativeCalls: callIndex,
      transcriptHash: requestHash,
    },
    voucherSignature: SIG,
  };
  return { type: "call", ...record, price: 10n };
}

const txHash = (n: number) => keccak256(toHex(`tx ${n}`));
const signed = (n: number): JournalRecord => ({
  type: "settle-signed",
  txHash: txHash(n),
  raw: "0x",
  nonce: n,
});
/** A batch record that paid lane (1, 7) from `fromCall` through `toCall`. */
const batch = (n: number, fromCall: bigint, toCall: bigint): JournalRecord => ({
  type: "batch",
  sequence: BigInt(n),
  txHash: txHash(n),
  ranges: [{ channelId: 1n, modelId: 7n, fromCall, toCall }],
});

const describeRecord = (r: JournalRecord) =>
  r.type === "call"
    ? `call ${(r as unknown as CallRecord).receipt.channelId}:${(r as unknown as CallRecord).receipt.callIndex}`
    : r.type === "lane"
      ? `lane ${(r as unknown as CallRecord).voucher.channelId} through ${(r as unknown as CallRecord).voucher.cumulativeCalls}`
      : `${r.type} ${r.nonce ?? r.sequence}`;

// Lane 1:7 settled twice (calls 1–2, then 3–4), call 5 unsettled; lane 2:7 never settled.
const journal = [
  call(1n, 7n, 1n),
  call(2n, 7n, 1n),
  call(1n, 7n, 2n),
  signed(0),
  batch(0, 1n, 2n),
  call(1n, 7n, 3n),
  call(1n, 7n, 4n),
  signed(1),
  batch(1, 3n, 4n),
  call(1n, 7n, 5n),
];

describe("keptBatches", () => {
  it("keeps the latest batches within the receipt budget, and always the last", () => {
    expect(keptBatches([5, 3, 2], 5)).toBe(2);
    expect(keptBatches([5, 3, 2], 10)).toBe(3);
    expect(keptBatches([5, 3, 9], 5)).toBe(1);
    expect(keptBatches([], 5)).toBe(0);
  });
});

describe("compactRecords", () => {
  it("drops the calls of batches before the last kept ones and keeps the rest in order", () => {
    expect(compactRecords(journal, 1).map(describeRecord)).toEqual([
      "lane 1 through 5",
      "lane 2 through 1",
      "call 2:1",
      "call 1:3",
      "call 1:4",
      "batch 1",
      "call 1:5",
    ]);
  });

  it("keeps every batch and its calls when they hold no more than keepReceipts receipts", () => {
    const kept = compactRecords(journal, 4).map(describeRecord);
    expect(kept.filter((r) => r.startsWith("call"))).toHaveLength(6);
    expect(kept.filter((r) => r.startsWith("batch"))).toEqual(["batch 0", "batch 1"]);
  });

  it("keeps a signed settlement without an outcome unless a later nonce was mined", () => {
    const pending = [...journal, signed(2)];
    expect(compactRecords(pending, 1).map(describeRecord).at(-1)).toBe("settle-signed 2");
    // Nonce 0 was signed twice (a replacement); the one that was not mined can never be now.
    const replaced = [signed(0), { ...signed(0), txHash: txHash(9) }, ...journal.slice(3)];
    expect(compactRecords(replaced, 1).some((r) => r.type === "settle-signed")).toBe(false);
  });

  it("keeps a lane set aside until a dropped batch paid past it", () => {
    const aside = (channelId: bigint, throughCall: bigint): JournalRecord => ({
      type: "quarantine",
      channelId,
      modelId: 7n,
      throughCall,
      error: "PaymentChannels_InvalidSignature(…)",
    });
    // 1:7 was set aside through call 1, then batch 0 (dropped) paid it through 2; 2:7 stays aside.
    const records = [...journal.slice(0, 3), aside(1n, 1n), aside(2n, 1n), ...journal.slice(3)];
    expect(compactRecords(records, 1).filter((r) => r.type === "quarantine")).toEqual([aside(2n, 1n)]);
  });

  it("is stable: compacting a compacted journal changes nothing", () => {
    const once = compactRecords(journal, 1);
    expect(compactRecords(once, 1)).toEqual(once);
  });

  it("reads batch records that name receipts by request hash, as earlier runners wrote them", () => {
    const hashesOf = (...positions: number[]) =>
      positions.map((i) => (journal[i] as unknown as CallRecord).receipt.requestHash);
    const old = journal.map((r) => {
      if (r.type !== "batch") return r;
      const { ranges: _, ...rest } = r;
      return {
        ...rest,
        requestHashes: r.sequence === 0n ? hashesOf(0, 2) : hashesOf(5, 6),
      };
    });
    expect(compactRecords(old, 1).map(describeRecord)).toEqual(
      compactRecords(journal, 1).map(describeRecord),
    );
  });
});

describe("compactOnWorker", () => {
  it("gives, from a journal file, the bytes of what compactRecords keeps", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-compaction-"));
    try {
      const file = path.join(dir, "journal.log");
      const bytes = encodeRecords(journal);
      writeFileSync(file, Buffer.concat([bytes, encodeRecord(call(1n, 7n, 6n))]));
      const head = await compactOnWorker({ path: file, length: bytes.length }, 1);
      expect(readJournal(Buffer.from(head)).records).toEqual(compactRecords(journal, 1));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("compactPrefix", () => {
  it("copies the records it keeps as they lie, and writes lane records as readJournal reads them", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-compaction-"));
    try {
      // The last call as another writer might have laid it out: its keys in another order.
      const { type, ...fields } = journal.at(-1) as JournalRecord;
      const reordered = encodeRecord({ ...fields, type });
      const file = path.join(dir, "journal.log");
      const bytes = Buffer.concat([encodeRecords(journal.slice(0, -1)), reordered]);
      writeFileSync(file, bytes);
      const head = Buffer.from(compactPrefix({ path: file, length: bytes.length }, 1));
      expect(head.subarray(head.length - reordered.length).equals(reordered)).toBe(true);
      expect(readJournal(head).records).toEqual(compactRecords(readJournal(bytes).records, 1));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

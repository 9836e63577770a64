// `npm run bench:journal`: the runner's journal on a synthetic one shaped as a busy runner writes
// it (BENCH_CALLS paid calls over 32 lanes, a signed settlement and its batch record every 5,000
// calls, the last 5,000 unsettled). Two comparisons, each in one process on the same file, in
// alternating rounds:
// 1. compaction, with the settler's default receipt budget:
//      raw lines   what the compaction thread runs (compactPrefix): records parsed without
//                  reviving their bigints, the kept ones copied as they lie
//      decode all  the baseline: every record read back as the runner's restart does, compacted,
//                  and the kept ones encoded again
// 2. reading the journal back, as a restart does:
//      parse, then revive     readJournal: JSON.parse, then one walk that turns {"$bigint"}
//                             objects into bigints
//      JSON.parse with a      the baseline: JSON.parse calling a reviver back for every value
//      reviver
// Each pair must give the same records; the bench fails otherwise.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Hex, keccak256, toHex } from "viem";
import {
  encodeRecord,
  encodeRecords,
  type JournalPrefix,
  type JournalRecord,
  parseJournalLines,
  readJournal,
  readJournalPrefix,
} from "../runner/journal";
import { compactPrefix, compactRecords } from "../runner/settlement/journalCompaction";
import { report } from "./table";

const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LANES = 32;
const BATCH_CALLS = 5_000;
const KEEP_RECEIPTS = 50_000; // settlement.proofReceipts' default
const PRICE = 1_000n;

const hash = (text: string) => keccak256(toHex(text));

/** The journal's lines: calls as paidCall journals them, settlements as the settler does. */
function syntheticJournal(): Buffer {
  const lines: Buffer[] = [];
  const calls = new Map<number, bigint>(); // lane → its last call index
  let settledThrough = new Map<number, bigint>();
  let sequence = 0n;
  for (let i = 0; i < CALLS; i++) {
    const lane = i % LANES;
    const callIndex = (calls.get(lane) ?? 0n) + 1n;
    calls.set(lane, callIndex);
    const channelId = BigInt(lane + 1);
    const requestHash = hash(`${lane}/${callIndex}`);
    lines.push(
      encodeRecord({
        type: "call",
        receipt: {
          requestHash,
          modelId: 7n,
          adapterHash: hash("adapter"),
          outputHash: hash(`out ${i}`),
          channelId,
          callIndex,
        },
        voucher: {
          channelId,
          modelId: 7n,
          cumulativeAmount: PRICE * callIndex,
          cumulativeCalls: callIndex,
          transcriptHash: hash(`transcript ${i}`),
        },
        voucherSignature: `0x${"1b".repeat(65)}`,
        price: PRICE,
        payer: `0x${"22".repeat(20)}`,
        at: 1_764_000_000_000 + i,
      }),
    );
    if ((i + 1) % BATCH_CALLS === 0 && i + 1 <= CALLS - BATCH_CALLS) {
      const txHash = hash(`settlement ${sequence}`);
      lines.push(
        encodeRecord({
          type: "settle-signed",
          root: hash(`root ${sequence}`),
          txHash,
          raw: `0x${"ab".repeat(4_000)}` as Hex,
          nonce: Number(sequence),
        }),
      );
      const ranges = [...calls].map(([l, toCall]) => ({
        channelId: BigInt(l + 1),
        modelId: 7n,
        fromCall: (settledThrough.get(l) ?? 0n) + 1n,
        toCall,
      }));
      settledThrough = new Map(calls);
      lines.push(
        encodeRecord({
          type: "batch",
          sequence,
          root: hash(`root ${sequence}`),
          txHash,
          blockNumber: 1_000n + sequence,
          totals: [{ modelId: 7n, calls: BigInt(BATCH_CALLS), amount: PRICE * BigInt(BATCH_CALLS) }],
          ranges,
        }),
      );
      sequence++;
    }
  }
  return Buffer.concat(lines);
}

const compactions = {
  "raw lines (compactPrefix, the runner's)": (prefix: JournalPrefix) => compactPrefix(prefix, KEEP_RECEIPTS),
  "decode all, compact, encode again": (prefix: JournalPrefix) =>
    encodeRecords(compactRecords(readJournalPrefix(prefix), KEEP_RECEIPTS)),
};
const compactedRecords = (journal: Uint8Array) => readJournal(Buffer.from(journal)).records;

const reads = {
  "parse, then revive (readJournal, the runner's)": (prefix: JournalPrefix) => readJournalPrefix(prefix),
  "JSON.parse with a reviver": (prefix: JournalPrefix) => readWithReviver(readFileSync(prefix.path)),
};

const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-journal-"));
try {
  const bytes = syntheticJournal();
  const file = path.join(dir, "journal.log");
  writeFileSync(file, bytes);
  const prefix = { path: file, length: bytes.length };
  const size = (byteCount: number, records: number) =>
    `${(byteCount / 2 ** 20).toFixed(1)} MB, ${records.toLocaleString("en-US")} records`;
  const journal = size(bytes.length, readJournal(bytes).records.length);

  const compaction = timeAlternating(compactions, prefix, compactedRecords);
  report(
    `journal compaction: ${CALLS.toLocaleString("en-US")} calls, median of ${ROUNDS} alternating rounds`,
    rows(compaction.times, "decode all, compact, encode again", bytes.length),
    {
      journal,
      kept: `${size(compaction.output.length, compaction.records.length)} (both methods the same)`,
    },
  );
  const read = timeAlternating(reads, prefix, (records) => records);
  report(
    `reading the journal back (a restart): median of ${ROUNDS} alternating rounds`,
    rows(read.times, "JSON.parse with a reviver", bytes.length),
    { journal },
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs every method ROUNDS times, in an order rotated from round to round so that each sees the
 * same slow and fast spells of a shared machine; fails unless all their outputs, as records, are
 * the same.
 */
function timeAlternating<Method extends string, Output>(
  methods: Record<Method, (prefix: JournalPrefix) => Output>,
  prefix: JournalPrefix,
  recordsOf: (output: Output) => unknown[],
) {
  const names = Object.keys(methods) as Method[];
  const times = new Map<Method, number[]>(names.map((name) => [name, []]));
  const outputs = new Map<Method, Output>();
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length] as Method;
      const start = performance.now();
      outputs.set(name, methods[name](prefix));
      times.get(name)?.push(performance.now() - start);
    }
  }
  const records = [...outputs.values()].map(recordsOf);
  if (new Set(records.map((r) => JSON.stringify(r, jsonBigint))).size !== 1)
    throw new Error(`${names.join(" and ")} gave different records`);
  return { times, records: records[0] as unknown[], output: outputs.get(names[0] as Method) as Output };
}

function rows<Method extends string>(times: Map<Method, number[]>, baselineName: Method, bytes: number) {
  const baseline = median(times.get(baselineName) as number[]);
  return [...times].map(([name, samples]) => {
    const sorted = [...samples].sort((a, b) => a - b);
    const ms = median(samples);
    return {
      method: name,
      ms: Math.round(ms),
      "ms, rounds": `${Math.round(sorted[0] as number)}–${Math.round(sorted.at(-1) as number)}`,
      "MB/s": Math.round(bytes / 2 ** 20 / (ms / 1000)),
      [`vs ${baselineName.split(",")[0]}`]: Number((baseline / ms).toFixed(2)),
    };
  });
}

/** The baseline reader: the journal's lines, each parsed with a reviver (CRC checks as readJournal). */
function readWithReviver(bytes: Buffer): JournalRecord[] {
  return parseJournalLines(bytes, (json) => JSON.parse(json, reviveWithCallback)).records;
}

function reviveWithCallback(_key: string, value: unknown) {
  if (value && typeof value === "object" && "$bigint" in value)
    return BigInt((value as { $bigint: string }).$bigint);
  return value;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
}

function jsonBigint(_key: string, value: unknown) {
  return typeof value === "bigint" ? `${value}n` : value;
}

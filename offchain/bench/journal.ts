// `npm run bench:journal`: the runner's journal compaction on a synthetic journal shaped as a busy
// runner writes it (BENCH_CALLS paid calls over 32 lanes, a signed settlement and its batch
// record every 5,000 calls, the last 5,000 unsettled), with the settler's default receipt budget.
// Compares, in one process on the same file, in alternating rounds:
//   raw lines   what the compaction thread runs (compactPrefix): records parsed without reviving
//               their bigints, the kept ones copied as they lie
//   decode all  the baseline: every record read back as the runner's restart does, compacted,
//               and the kept ones encoded again
// Both must give the same records; the bench fails otherwise.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Hex, keccak256, toHex } from "viem";
import {
  encodeRecord,
  encodeRecords,
  type JournalPrefix,
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

const methods = {
  "raw lines (compactPrefix, the runner's)": (prefix: JournalPrefix) => compactPrefix(prefix, KEEP_RECEIPTS),
  "decode all, compact, encode again": (prefix: JournalPrefix) =>
    encodeRecords(compactRecords(readJournalPrefix(prefix), KEEP_RECEIPTS)),
};
type Method = keyof typeof methods;

const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-journal-"));
try {
  const bytes = syntheticJournal();
  const file = path.join(dir, "journal.log");
  writeFileSync(file, bytes);
  const prefix = { path: file, length: bytes.length };
  const names = Object.keys(methods) as Method[];
  const times = new Map<Method, number[]>(names.map((name) => [name, []]));
  const outputs = new Map<Method, Uint8Array>();
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length] as Method;
      const start = performance.now();
      outputs.set(name, methods[name](prefix));
      times.get(name)?.push(performance.now() - start);
    }
  }
  const [raw, decoded] = names.map(
    (name) => readJournal(Buffer.from(outputs.get(name) as Uint8Array)).records,
  );
  if (JSON.stringify(raw, jsonBigint) !== JSON.stringify(decoded, jsonBigint))
    throw new Error("the two compactions kept different records");
  const mb = bytes.length / 2 ** 20;
  const medianOf = (name: Method) => median(times.get(name) as number[]);
  const baseline = medianOf("decode all, compact, encode again");
  report(
    `journal compaction: ${CALLS.toLocaleString("en-US")} calls, median of ${ROUNDS} alternating rounds`,
    names.map((name) => {
      const sorted = [...(times.get(name) as number[])].sort((a, b) => a - b);
      return {
        method: name,
        "ms per compaction": Math.round(medianOf(name)),
        "ms, rounds": `${Math.round(sorted[0] as number)}–${Math.round(sorted.at(-1) as number)}`,
        "MB/s": Math.round(mb / (medianOf(name) / 1000)),
        "vs decode all": Number((baseline / medianOf(name)).toFixed(2)),
      };
    }),
    {
      journal: `${mb.toFixed(1)} MB, ${readJournal(bytes).records.length.toLocaleString("en-US")} records`,
      kept: `${((outputs.get(names[0] as Method)?.length ?? 0) / 2 ** 20).toFixed(1)} MB, ${raw?.length.toLocaleString("en-US")} records (both methods the same)`,
    },
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
}

function jsonBigint(_key: string, value: unknown) {
  return typeof value === "bigint" ? `${value}n` : value;
}

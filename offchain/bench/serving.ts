// `npm run bench:serving`: many PEFT adapters on the USE-lite transformer, in one process, side
// by side (issue 23). Adapters: rank 8 on all ten linear modules (the PEFT default's eight, the
// residual projection and the pooler), a 3-label head. Texts: crypto posts and SpamAssassin
// e-mails alternating (e-mails are cut at 128 tokens). Methods, measured in interleaved rounds:
//   runner                   UseLiteExecutor as the runner builds it (gather layout, arena of
//                            rank BENCH_ARENA_RANK, default 16 as the runner's cache.maxRank):
//                            32 rows over 32 adapters, one run per token bucket
//   runner, arena rank 8     the same with an arena as large as the adapters' rank
//   runner, ffn.out + pooler the same rows over adapters shaped as the committed ones (rank 8 on
//                            layer 1's ffn.out and the pooler, the trainer's default targets)
//   base alone, bucketed     the base graph without LoRA, rows padded to the same buckets (the
//                            reference of the aims)
//   base alone, one run      the base graph, one run padded to the longest row
//   merged sessions          one merged-weights session per adapter, one run each
//   one run per row          the runner's executor, called once per row
//   tokens 8/32/128          the runner and the base alone on rows of exactly that many tokens
// The realistic traffic of servingTraffic.ts runs first (its event loop holds no copy of the base,
// as the runner's does not), then the worst case above. BENCH_THREADS sets onnxruntime's threads
// (1, the runner's default), BENCH_ROUNDS the rounds (5), BENCH_MERGED the merged sessions (32),
// BENCH_TRAFFIC_THREAD=0 serves the traffic on the event loop instead of inference threads.
import type * as ort from "onnxruntime-node";
import { loadUseLiteSource } from "../ml/base/useLite/source";
import { denseBatch, runUseLite, useLiteBase } from "../ml/base/useLite/useLiteBase";
import { createSession } from "../ml/onnx/session";
import { buildMergedUseLiteOnnx, classify } from "../ml/peft/loraMath";
import { type TokenRow, tokenBucket, UseLiteExecutor } from "../runner/executor/useLiteExecutor";
import type { PeftAdapterBytes } from "../runner/testing/peftAdapters";
import { benchAdapters, realisticRows, rowsOfLength, TRAINED_TARGETS } from "./servingInputs";
import { measureTraffic } from "./servingTraffic";
import { interleavedRates, type RoundRates, report } from "./table";

const BATCH = 32;
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MS_PER_ROUND = Number(process.env.BENCH_ROUND_MS ?? 1_000);
const ARENA_RANK = Number(process.env.BENCH_ARENA_RANK ?? 16);
const MAX_CLASSES = 8;
const MERGED = Number(process.env.BENCH_MERGED ?? BATCH);
const TOKEN_LENGTHS = [8, 32, 128] as const;
const ONLY = process.env.BENCH_PART; // "batch" or "traffic" runs one part alone
const WARM_UP = Number(process.env.BENCH_WARMUP ?? 2_000);
/** Traffic served on inference threads, as the runner serves by default; BENCH_TRAFFIC_THREAD=0: on the event loop. */
const TRAFFIC_THREAD = process.env.BENCH_TRAFFIC_THREAD !== "0";

let inputs: { adapters: PeftAdapterBytes[]; rows: number[][] } | undefined;
/**
 * The worst case's adapters and rows, built when the batch part runs: tokenizing them builds the
 * base on this thread, which the traffic part's event loop (as the runner's, with the inference
 * thread) must not hold, or its garbage collections mark the base's arrays too.
 */
function batchInputs() {
  inputs ??= { adapters: benchAdapters(BATCH), rows: realisticRows(BATCH) };
  return inputs;
}

async function executor(maxRank: number, adapters = batchInputs().adapters) {
  const created = await UseLiteExecutor.create({
    slots: BATCH,
    maxRank,
    maxClasses: MAX_CLASSES,
    threads: THREADS,
  });
  for (const [slot, { bytes, hash }] of adapters.entries()) created.load(slot, bytes, hash);
  return created;
}

/** The base alone on rows padded to their buckets, one run per bucket (as the runner pads). */
function bucketedBase(session: ort.InferenceSession, ids: readonly number[][]) {
  const buckets = new Map<number, number[][]>();
  for (const row of ids) {
    const bucket = tokenBucket(row.length);
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), row]);
  }
  const batches = [...buckets.values()].map((group) => denseBatch(group.length > 1 ? group : [...group, []]));
  return async () => {
    for (const batch of batches) await runUseLite(session, batch);
  };
}

async function measureBatches() {
  const { adapters, rows } = batchInputs();
  const runner = await executor(ARENA_RANK);
  const runner8 = ARENA_RANK === 8 ? runner : await executor(8);
  const runnerTrained = await executor(ARENA_RANK, benchAdapters(BATCH, 100, TRAINED_TARGETS));
  const plain = await createSession(useLiteBase().onnx, THREADS);
  const source = loadUseLiteSource();
  const merged: ort.InferenceSession[] = [];
  for (const { decoded } of adapters.slice(0, MERGED)) {
    merged.push(await createSession(buildMergedUseLiteOnnx(source, decoded.adapter), THREADS));
  }
  const tokenRows = (ids: readonly number[][]): TokenRow[] => ids.map((input, slot) => ({ input, slot }));
  const mixed = tokenRows(rows);
  const fixed = Object.fromEntries(TOKEN_LENGTHS.map((t) => [t, rowsOfLength(BATCH, t)]));
  const singles = rows.map((input) => denseBatch([input]));
  const heads = adapters.map(
    ({ decoded }) => decoded.adapter.head as NonNullable<typeof decoded.adapter.head>,
  );
  const methods = {
    runner: () => runner.run(mixed),
    runnerRank8: () => runner8.run(mixed),
    runnerTrained: () => runnerTrained.run(mixed),
    baseBucketed: bucketedBase(plain, rows),
    baseOneRun: () => runUseLite(plain, denseBatch(rows)),
    merged: async () => {
      for (const [i, batch] of singles.entries()) {
        classify(
          await runUseLite(merged[i % merged.length] as ort.InferenceSession, batch),
          heads[i] as never,
        );
      }
    },
    perRow: async () => {
      for (const row of mixed) await runner.run([row]);
    },
    ...Object.fromEntries(
      TOKEN_LENGTHS.flatMap((t) => [
        [`runner${t}`, () => runner.run(tokenRows(fixed[t] as number[][]))],
        [`base${t}`, bucketedBase(plain, fixed[t] as number[][])],
      ]),
    ),
  } as Record<string, () => Promise<unknown>>;
  const rates = await interleavedRates(methods, ROUNDS, MS_PER_ROUND);
  await Promise.all([
    runner.release(),
    runner8.release(),
    runnerTrained.release(),
    plain.release(),
    ...merged.map((s) => s.release()),
  ]);
  return rates;
}

function batchTable(rates: Record<string, RoundRates>) {
  const row = (method: string, rate: RoundRates, reference: RoundRates) => ({
    method,
    "rows/s": Math.round(rate.median * BATCH),
    "rows/s, rounds": `${Math.round(rate.min * BATCH)}–${Math.round(rate.max * BATCH)}`,
    "ms/batch": Number((1000 / rate.median).toFixed(1)),
    "vs base alone": Number((rate.median / reference.median).toFixed(2)),
  });
  const r = rates as Record<string, RoundRates>;
  const base = r.baseBucketed as RoundRates;
  const mergedLabel =
    MERGED === BATCH
      ? `one merged session per adapter (${BATCH}), a run each`
      : `merged sessions (${MERGED} built, used in turn), a run per row`;
  return [
    row(`runner: 32 rows × 32 adapters, arena rank ${ARENA_RANK}`, r.runner as RoundRates, base),
    row("runner, arena rank 8 (as the adapters)", r.runnerRank8 as RoundRates, base),
    row("runner, adapters targeting ffn.out of layer 1 + pooler", r.runnerTrained as RoundRates, base),
    row("base alone, bucketed as the runner", base, base),
    row("base alone, one run padded to the longest", r.baseOneRun as RoundRates, base),
    row(mergedLabel, r.merged as RoundRates, base),
    row("runner, one run per row", r.perRow as RoundRates, base),
    ...TOKEN_LENGTHS.flatMap((t) => [
      row(`runner, ${t} tokens per row`, r[`runner${t}`] as RoundRates, r[`base${t}`] as RoundRates),
      row(`base alone, ${t} tokens per row`, r[`base${t}`] as RoundRates, r[`base${t}`] as RoundRates),
    ]),
  ];
}

const JSON_OUT = process.argv.includes("--json");
const sections: unknown[] = [];
/** A table, or with --json a section of the one JSON object printed at the end. */
function section(title: string, table: Record<string, string | number>[], extra: Record<string, unknown>) {
  if (JSON_OUT) sections.push({ benchmark: title, ...extra, rows: table });
  else report(title, table, extra);
}

if (ONLY !== "batch") {
  const traffic = await measureTraffic({
    adapters: Number(process.env.BENCH_ADAPTERS ?? 1_000),
    budgetMB: 256,
    maxRank: ARENA_RANK,
    maxClasses: MAX_CLASSES,
    threads: THREADS,
    clients: Number(process.env.BENCH_CLIENTS ?? 64),
    warmUp: WARM_UP,
    requestsPerRound: Number(process.env.BENCH_REQUESTS ?? 1_000),
    rounds: Number(process.env.BENCH_TRAFFIC_ROUNDS ?? 3),
    thread: TRAFFIC_THREAD,
  });
  const rate = (r: { median: number; min: number; max: number }) => ({
    "rows/s": Math.round(r.median),
    "rows/s, rounds": `${Math.round(r.min)}–${Math.round(r.max)}`,
  });
  section(
    "USE-lite serving, realistic: Zipf(1.0) over registered adapters, batches as the scheduler forms them",
    [
      {
        method: "runner (cache, scheduler, executor)",
        ...rate(traffic.runner),
        "rows per batch": Number(traffic.runnerBatchRows.toFixed(1)),
        "vs base alone": Number((traffic.runner.median / traffic.base.median).toFixed(2)),
      },
      {
        method: "base alone through the same scheduler",
        ...rate(traffic.base),
        "rows per batch": Number(traffic.baseBatchRows.toFixed(1)),
        "vs base alone": 1,
      },
    ],
    {
      cache: `256 MB, ${traffic.slots} slots at rank ${ARENA_RANK}, ${MAX_CLASSES} classes`,
      executors: TRAFFIC_THREAD
        ? "on threads of their own (the runner's inference thread; the base alone's own)"
        : "on the event loop",
      "cache hit rate": `${(traffic.hitRate * 100).toFixed(1)} % (after a warm-up of ${WARM_UP} requests)`,
      "cold loads": `${traffic.loads}: p50 ${traffic.coldP50.toFixed(3)} ms, p99 ${traffic.coldP99.toFixed(3)} ms, max ${traffic.coldMax.toFixed(3)} ms`,
      "event loop's garbage collection in the runner's rounds": `${traffic.gc.ms.toFixed(0)} ms in ${traffic.gc.count} collections, ${traffic.gc.over3ms} over 3 ms`,
      aims: "runner ≥ 0.9× the base alone; cold-load p99 ≤ 5 ms",
    },
  );
}

if (JSON_OUT) console.log(JSON.stringify({ benchmark: "bench:serving", sections }));

if (ONLY !== "traffic") {
  const tokens = batchInputs().rows.map((row) => row.length);
  section(
    `USE-lite serving, worst case: a batch of ${BATCH} rows over ${BATCH} adapters`,
    batchTable(await measureBatches()),
    {
      adapters: "PEFT, rank 8 on all ten modules, 3-label head",
      texts: `${BATCH / 2} crypto posts and ${BATCH / 2} e-mails: ${Math.min(...tokens)}–${Math.max(...tokens)} tokens (mean ${(tokens.reduce((a, b) => a + b, 0) / BATCH).toFixed(1)}), buckets ${[...new Set(tokens.map(tokenBucket))].sort((a, b) => a - b).join(", ")}`,
      "onnxruntime threads": THREADS,
      rounds: `${ROUNDS} interleaved rounds of ${MS_PER_ROUND} ms per method; the token rows compare with the base alone at the same length`,
      aim: "runner ≥ 0.8× the base alone",
    },
  );
}

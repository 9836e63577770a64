// `npm run bench:serving:use-lite`: a batch of 32 crypto-sentiment posts served on USE-lite with
// PEFT adapters (rank 8, default targets, a 3-label head), in one process on the same inputs:
//   gather, N adapters    what the runner runs (UseLiteExecutor, gather layout): each row's
//                         factors gathered from the arena, one run per token bucket, for the 32
//                         rows over 1, 4 or 32 adapters
//   grouped, N adapters   the grouped layout: the adapter's factors as side inputs, one run per
//                         adapter and bucket (32 adapters: 32 runs of one row and its filler)
//   merged, 1 adapter     the classic way: a merged-weights session, all 32 rows in one run
//                         padded to the longest (its rows are not reproducible alone vs batched)
//   merged, 4 adapters    one merged session per adapter, one run each
//   base alone            the base graph without LoRA inputs, 32 rows in one run
// at 1 and 2 onnxruntime threads, in interleaved rounds (see interleavedRates). Tokenizing is
// done once, outside the timings; the head's softmax (JS) is inside the runner's rows. The
// executors' arena holds rank 8 unless BENCH_ARENA_RANK says more (the runner's default is 16:
// the gather layout then gathers and multiplies zero-padded factors of that rank).
import { readFileSync } from "node:fs";
import type * as ort from "onnxruntime-node";
import { loadUseLiteSource } from "../ml/base/useLite/source";
import { denseBatch, runUseLite, useLiteBase } from "../ml/base/useLite/useLiteBase";
import { createSession } from "../ml/onnx/session";
import { buildMergedUseLiteOnnx, classify } from "../ml/peft/loraMath";
import {
  type TokenRow,
  tokenBucket,
  UseLiteExecutor,
  type UseLiteLayout,
} from "../runner/executor/useLiteExecutor";
import { peftAdapterBytes } from "../runner/testing/peftAdapters";
import { interleavedRates, type RoundRates, report } from "./table";

const BATCH = 32;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MS_PER_ROUND = 600;
const ARENA_RANK = Number(process.env.BENCH_ARENA_RANK ?? 8);
const LABELS = ["negative", "neutral", "positive"];
const DATA = "offchain/ml/data/crypto-sentiment/batch-01.jsonl";

const texts = readFileSync(DATA, "utf8")
  .trim()
  .split("\n")
  .slice(0, BATCH)
  .map((line) => (JSON.parse(line) as { text: string }).text);
const base = useLiteBase();
const ids = texts.map((text) => base.tokenizer.encode(text));
const adapters = Array.from({ length: BATCH }, (_, i) => peftAdapterBytes({ seed: 100 + i, labels: LABELS }));

async function executorFor(layout: UseLiteLayout, threads: number): Promise<UseLiteExecutor> {
  const executor = await UseLiteExecutor.create({
    slots: BATCH,
    maxRank: ARENA_RANK,
    maxClasses: 8,
    threads,
    layout,
  });
  adapters.forEach(({ bytes, hash }, slot) => {
    executor.load(slot, bytes, hash);
  });
  return executor;
}

async function measure(threads: number) {
  const gather = await executorFor("gather", threads);
  const grouped = await executorFor("grouped", threads);
  const rowsFor = (adapterCount: number): TokenRow[] =>
    ids.map((input, i) => ({ input, slot: i % adapterCount }));
  const [one, four, all] = [rowsFor(1), rowsFor(4), rowsFor(BATCH)];
  const source = loadUseLiteSource();
  const merged = await Promise.all(
    adapters
      .slice(0, 4)
      .map(({ decoded }) => createSession(buildMergedUseLiteOnnx(source, decoded.adapter), threads)),
  );
  const plain = await createSession(base.onnx, threads);
  const dense = denseBatch(ids);
  const groupsOf4 = [0, 1, 2, 3].map((g) => denseBatch(ids.filter((_, i) => i % 4 === g)));
  const head = (slot: number) =>
    adapters[slot]?.decoded.adapter.head as NonNullable<
      (typeof adapters)[number]["decoded"]["adapter"]["head"]
    >;
  const mergedRun = async (session: ort.InferenceSession, batch: typeof dense, slot: number) =>
    classify(await runUseLite(session, batch), head(slot));

  const rates = await interleavedRates(
    {
      gather1: () => gather.run(one),
      gather4: () => gather.run(four),
      gather32: () => gather.run(all),
      grouped1: () => grouped.run(one),
      grouped4: () => grouped.run(four),
      grouped32: () => grouped.run(all),
      merged1: () => mergedRun(merged[0] as ort.InferenceSession, dense, 0),
      merged4: async () => {
        for (const [g, batch] of groupsOf4.entries())
          await mergedRun(merged[g] as ort.InferenceSession, batch, g);
      },
      baseAlone: () => runUseLite(plain, dense),
    },
    ROUNDS,
    MS_PER_ROUND,
  );
  await Promise.all([
    gather.release(),
    grouped.release(),
    plain.release(),
    ...merged.map((s) => s.release()),
  ]);
  const reference = rates.merged1.median;
  const row = (method: string, rate: RoundRates) => ({
    threads,
    method,
    "rows/s": Math.round(rate.median * BATCH),
    "ms/batch": Number((1000 / rate.median).toFixed(1)),
    "ms/batch, rounds": `${(1000 / rate.max).toFixed(1)}–${(1000 / rate.min).toFixed(1)}`,
    "vs merged, 1 adapter": Number((rate.median / reference).toFixed(2)),
  });
  return [
    row("runner (gather), 1 adapter", rates.gather1),
    row("runner (gather), 4 adapters", rates.gather4),
    row("runner (gather), 32 adapters", rates.gather32),
    row("grouped, 1 adapter (a run per bucket)", rates.grouped1),
    row("grouped, 4 adapters (a run per adapter and bucket)", rates.grouped4),
    row("grouped, 32 adapters (32 one-row runs)", rates.grouped32),
    row("merged session, 1 adapter, one run", rates.merged1),
    row("merged sessions, 4 adapters, a run each", rates.merged4),
    row("base alone, no LoRA inputs, one run", rates.baseAlone),
  ];
}

const tokens = ids.map((row) => row.length);
const buckets = [...new Set(tokens.map(tokenBucket))].sort((a, b) => a - b);
const table = [...(await measure(1)), ...(await measure(2))];
report(`USE-lite serving: a batch of ${BATCH} posts, PEFT adapters of rank 8 with a 3-label head`, table, {
  tokens: `${Math.min(...tokens)}–${Math.max(...tokens)} per row (mean ${(tokens.reduce((a, b) => a + b, 0) / BATCH).toFixed(1)}), buckets ${buckets.join(", ")}`,
  rounds: `${ROUNDS} interleaved rounds of ${MS_PER_ROUND} ms per method`,
  "arena rank": ARENA_RANK,
});

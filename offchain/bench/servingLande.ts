// `npm run bench:serving:lande`: a batch of 32 rows over 32 different adapters, at the 768-wide
// benchmark base and at the lande base. Compares, in one process on the same inputs:
//   runner      what the runner runs: the base layer in onnxruntime, then our BGMV kernel over
//               the arena, where the kernel is built (else the gather graph, as the next row)
//   gather      one run of the multi-adapter gather graph (the runner's fallback)
//   merged      one merged-weights session per adapter, one run per row (the classic way)
//   per-row     the runner's way, one run per row (no batching)
//   base alone  the base model without adapters, one batched run (the ceiling)
//   no-Gather   the gather graph without its Gathers, fed factors already one slot per row: not
//               a way to serve, but a bound on what any gather could reach with that graph
//   parts       the runner's two halves alone: the base layer's run, the kernel's call
// at 1 and 2 onnxruntime threads per session, in interleaved rounds (see interleavedRates).
// The arena is as large as the adapters (rank 8, 4 classes) unless BENCH_ARENA_RANK and
// BENCH_ARENA_CLASSES make it larger, as the runner's default arena is (rank 16, 8 classes).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import type { LoraAdapter } from "../ml/adapter/adapter";
import { type BaseModel, landeBaseModel, wideBenchmarkBase } from "../ml/base/baseModel";
import { Rng } from "../ml/random";
import { AdapterArena } from "../runner/executor/adapterArena";
import { BASE_LAYER_INPUT, BASE_LAYER_OUTPUT, buildBaseLayerGraph } from "../runner/executor/baseLayerGraph";
import { buildGatherGraph, GATHER_INPUTS } from "../runner/executor/gatherGraph";
import { loadLoraKernel } from "../runner/executor/loraKernel";
import { createMergedSession } from "../runner/executor/mergedSession";
import { MultiAdapterExecutor, type Row } from "../runner/executor/multiAdapterExecutor";
import { randomAdapter } from "../runner/testing/randomAdapter";
import { interleavedRates, type RoundRates, report } from "./table";

const BATCH = 32;
const RANK = 8;
/** Each round runs every method for MS_PER_ROUND, in an order rotated from round to round. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MS_PER_ROUND = 400;
/** BENCH_PROFILE=1 adds the gather graph's per-node split from onnxruntime's profiler. */
const PROFILE = process.env.BENCH_PROFILE === "1";
const PROFILED_RUNS = 2_000;

const LABELS = ["a", "b", "c", "d"];
const NATIVE = loadLoraKernel() !== null;
const CLASSES = LABELS.length;
const ARENA = {
  slots: BATCH,
  maxRank: Number(process.env.BENCH_ARENA_RANK ?? RANK),
  maxClasses: Number(process.env.BENCH_ARENA_CLASSES ?? CLASSES),
};

async function measure(base: BaseModel, threads: number) {
  const rng = new Rng(42);
  const d = base.hidden.inputs;
  const adapters = Array.from({ length: BATCH }, () =>
    randomAdapter(rng, base, { rank: RANK, labels: LABELS, factorStd: 0.05, headStd: 0.1, biasStd: 0.1 }),
  );
  const rows = adapters.map((_, slot) => ({
    features: Float32Array.from({ length: d }, () => Math.abs(rng.normal())),
    slot,
  }));

  const executor = await MultiAdapterExecutor.create(base, ARENA, { threads, kernel: "graph" });
  const native = NATIVE
    ? await MultiAdapterExecutor.create(base, ARENA, { threads, kernel: "native" })
    : undefined;
  const runner = native ?? executor;
  for (const [slot, adapter] of adapters.entries()) {
    executor.arena.write(slot, adapter);
    native?.arena.write(slot, adapter);
  }
  const merged = await Promise.all(adapters.map((adapter) => createMergedSession(base, adapter, threads)));
  const baseSession = await ort.InferenceSession.create(base.onnx, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  // Row i uses slot i, so the arena's tensors are already one slot per row, as this graph wants.
  const noGather = await ort.InferenceSession.create(buildGatherGraph(base, "per-row"), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const batchFeatures = new Float32Array(BATCH * d);
  for (const [i, row] of rows.entries()) batchFeatures.set(row.features, i * d);

  const rates = await interleavedRates(
    {
      runner: () => runner.run(rows),
      gather: () => executor.run(rows),
      merged: () =>
        Promise.all(
          merged.map((session, i) =>
            session.run({ features: new ort.Tensor("float32", (rows[i] as Row).features, [1, d]) }),
          ),
        ),
      perRow: async () => {
        for (const row of rows) await runner.run([row]);
      },
      baseAlone: () => baseSession.run({ features: new ort.Tensor("float32", batchFeatures, [BATCH, d]) }),
      noGather: () =>
        noGather.run({
          ...executor.arena.feeds,
          [GATHER_INPUTS.features]: new ort.Tensor("float32", batchFeatures, [BATCH, d]),
        }),
    },
    ROUNDS,
    MS_PER_ROUND,
  );
  const split = PROFILE ? await profiledSplit(base, adapters, rows, batchFeatures, threads) : undefined;
  const parts = native ? await nativeParts(base, native, rows, batchFeatures, threads) : undefined;
  await Promise.all([
    executor.release(),
    native?.release(),
    baseSession.release(),
    noGather.release(),
    ...merged.map((s) => s.release()),
  ]);
  const runnerRate = rates.runner.median;
  const row = (method: string, rate: RoundRates) => ({
    base: base.id,
    threads,
    method,
    "rows/s": Math.round(rate.median * BATCH),
    "ms/batch": Number((1000 / rate.median).toFixed(3)),
    "ms/batch, rounds": `${(1000 / rate.max).toFixed(3)}–${(1000 / rate.min).toFixed(3)}`,
    "vs runner": Number((rate.median / runnerRate).toFixed(2)),
  });
  const table = [
    row(`the runner: ${runner.method}`, rates.runner),
    row("gather graph (the fallback)", rates.gather),
    row("merged session per adapter", rates.merged),
    row("the runner, one run per row", rates.perRow),
    row("base alone, no adapters", rates.baseAlone),
    row("bound: gather graph without Gathers", rates.noGather),
    ...(parts
      ? [
          row("the runner's part: base layer (onnxruntime)", parts.baseLayer),
          row("the runner's part: kernel alone, arena warm", parts.kernel),
        ]
      : []),
  ];
  return { table, split };
}

/**
 * The two halves of the runner's way, each alone, in rounds of their own: onnxruntime's run of
 * the base layer, and the kernel over the arena with the caches left warm by the kernel itself.
 */
async function nativeParts(
  base: BaseModel,
  native: MultiAdapterExecutor,
  rows: Row[],
  features: Float32Array,
  threads: number,
) {
  const kernel = loadLoraKernel();
  if (!kernel) throw new Error("the native kernel is not built");
  const layer = await ort.InferenceSession.create(buildBaseLayerGraph(base), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const { d, k, shape } = native.arena;
  const input = () => ({ [BASE_LAYER_INPUT]: new ort.Tensor("float32", features, [BATCH, d]) });
  const pre = (await layer.run(input()))[BASE_LAYER_OUTPUT]?.data as Float32Array;
  const slots = Int32Array.from(rows, (row) => row.slot);
  const out = new Float32Array(BATCH * shape.maxClasses);
  const dims = { d, k, rank: shape.maxRank, classes: shape.maxClasses };
  const rates = await interleavedRates(
    {
      baseLayer: () => layer.run(input()),
      kernel: () => kernel.adaptRows(pre, features, slots, native.arena.factors, dims, out),
    },
    ROUNDS,
    MS_PER_ROUND / 2,
  );
  await layer.release();
  return rates;
}

/**
 * Where a gather run's time goes: the median time of each node over PROFILED_RUNS runs of the
 * gather graph, from onnxruntime's own profiler (which adds a little time of its own), and the
 * median of the whole run as the profiler saw it.
 */
async function profiledSplit(
  base: BaseModel,
  adapters: LoraAdapter[],
  rows: Row[],
  features: Float32Array,
  threads: number,
) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-profile-"));
  try {
    const arena = new AdapterArena(base, ARENA);
    for (const [slot, adapter] of adapters.entries()) arena.write(slot, adapter);
    const session = await ort.InferenceSession.create(buildGatherGraph(base), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      enableProfiling: true,
      profileFilePrefix: path.join(dir, "gather"),
    });
    const d = base.hidden.inputs;
    const slots = BigInt64Array.from(rows, (row) => BigInt(row.slot));
    for (let i = 0; i < PROFILED_RUNS; i++) {
      await session.run({
        ...arena.feeds,
        [GATHER_INPUTS.features]: new ort.Tensor("float32", features, [BATCH, d]),
        [GATHER_INPUTS.slot]: new ort.Tensor("int64", slots, [BATCH]),
      });
    }
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith(".json"));
    if (!file) throw new Error("onnxruntime wrote no profile");
    const events = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as ProfileEvent[];
    const byNode = new Map<string, number[]>();
    for (const e of events) {
      if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
      const name = e.name.slice(0, -"_kernel_time".length);
      byNode.set(name, [...(byNode.get(name) ?? []), e.dur]);
    }
    const runs = events.filter((e) => e.name === "model_run").map((e) => e.dur);
    return [
      ...[...byNode].map(([node, durations]) => ({ base: base.id, threads, node, µs: median(durations) })),
      { base: base.id, threads, node: "whole run (model_run)", µs: median(runs) },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

// Every method gets the same onnxruntime thread count: 1 (the runner's default, which leaves the
// other core to HTTP and payments) and 2 (the whole machine). BENCH_THREADS=1 runs one.
const threadCounts = (process.env.BENCH_THREADS ?? "1,2").split(",").map(Number);
const rows = [];
const splits = [];
for (const threads of threadCounts) {
  for (const base of [wideBenchmarkBase(), landeBaseModel()]) {
    const { table, split } = await measure(base, threads);
    rows.push(...table);
    if (split) splits.push(...split);
  }
}
report(
  `serving: batch of ${BATCH} rows over ${BATCH} adapters (rank ${RANK}, ${CLASSES} classes) in an arena of ` +
    `rank ${ARENA.maxRank} and ${ARENA.maxClasses} classes, median of ${ROUNDS} interleaved rounds`,
  rows,
  {
    aims: "the runner's way ≥ 10× merged sessions, ≥ 0.7× base alone",
  },
);
if (PROFILE) report(`gather graph per node: median of ${PROFILED_RUNS} profiled runs`, splits);

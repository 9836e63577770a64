// `npm run bench:serving:profile`: where the runner's USE-lite gather graph spends a batch beyond
// what the base alone spends, from onnxruntime's own profiler: the worst-case batch of
// bench:serving (32 rows over 32 adapters, rank 8 on all ten modules, one run per token bucket)
// through the gather graph and through the base graph on the same padded rows, node times summed
// by kind over BENCH_RUNS batches (20), and the whole batch timed from JavaScript
// (UseLiteExecutor.run: padding, feeds, the runs, the heads' softmax).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { USE_LITE_MODULE_NAMES } from "../ml/base/useLite/modules";
import { type DenseBatch, paddedBatch, runUseLite, useLiteBase } from "../ml/base/useLite/useLiteBase";
import { UseLiteArena } from "../runner/executor/useLiteArena";
import { tokenBucket, UseLiteExecutor } from "../runner/executor/useLiteExecutor";
import { useLiteGatherGraph } from "../runner/executor/useLiteGatherGraph";
import { benchAdapters, realisticRows } from "./servingInputs";
import { report } from "./table";

const BATCH = 32;
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const ARENA_RANK = Number(process.env.BENCH_ARENA_RANK ?? 16);

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/** Node names of the modules' outputs: x·W + bias in the base, x·W + side path in the runner. */
const MODULE_OUTPUTS = new Set(USE_LITE_MODULE_NAMES.map((module) => `Add:${module}_kernel_time`));

/** A node's kind: the side paths' gathers, products and the rest, or the frozen graph's by op type. */
function kindOf(event: ProfileEvent): string {
  const op = event.args?.op_name ?? "?";
  if (MODULE_OUTPUTS.has(event.name)) return "modules' output Add (+ bias, or + side path)";
  if (event.name.includes("lora") && op === "Gather") return "side path: Gather of each row's factors";
  if (event.name.includes("lora") && (op === "MatMul" || op === "FusedMatMul"))
    return "side path: batched MatMuls (down, up)";
  if (event.name.includes("lora")) return `side path: ${op}`;
  if (op === "MatMul" || op === "FusedMatMul" || op === "Gemm" || op === "FusedGemm") return "frozen: MatMul";
  return `frozen: ${op}`;
}

interface Run {
  batch: DenseBatch;
  feeds: Record<string, ort.Tensor>;
}

/** Runs `runs` RUNS times under onnxruntime's profiler; µs by kind, and the runs' whole time. */
async function profile(graph: Uint8Array, runs: Run[]) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-profile-"));
  try {
    const session = await ort.InferenceSession.create(graph, {
      executionProviders: ["cpu"],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      enableProfiling: true,
      profileFilePrefix: path.join(dir, "run"),
    });
    for (let n = 0; n < RUNS; n++) for (const run of runs) await runUseLite(session, run.batch, run.feeds);
    session.endProfiling();
    await session.release();
    const file = path.join(dir, readdirSync(dir)[0] as string);
    const events = JSON.parse(readFileSync(file, "utf8")) as ProfileEvent[];
    const byKind = new Map<string, number>();
    let whole = 0;
    for (const event of events) {
      if (event.cat === "Session" && event.name === "model_run") whole += event.dur;
      if (event.cat !== "Node" || !event.name.endsWith("_kernel_time")) continue;
      byKind.set(kindOf(event), (byKind.get(kindOf(event)) ?? 0) + event.dur);
    }
    return { byKind, whole };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const adapters = benchAdapters(BATCH);
const rows = realisticRows(BATCH);
const gather = useLiteGatherGraph();
const arena = new UseLiteArena(BATCH, ARENA_RANK, gather.biases);
for (const [slot, { decoded }] of adapters.entries()) arena.write(slot, decoded.adapter);
const buckets = new Map<number, number[]>();
rows.forEach((row, i) => {
  const bucket = tokenBucket(row.length);
  buckets.set(bucket, [...(buckets.get(bucket) ?? []), i]);
});
const batches = [...buckets].map(([tokens, indices]) => ({
  indices,
  batch: paddedBatch(
    indices.map((i) => rows[i] as number[]),
    tokens,
  ),
}));
const base = await profile(
  useLiteBase().onnx,
  batches.map(({ batch }) => ({ batch, feeds: {} })),
);
const runner = await profile(
  gather.onnx,
  batches.map(({ batch, indices }) => ({ batch, feeds: { ...arena.feeds, ...arena.indexFeeds(indices) } })),
);

const executor = await UseLiteExecutor.create({ slots: BATCH, maxRank: ARENA_RANK, maxClasses: 8 });
for (const [slot, { bytes, hash }] of adapters.entries()) executor.load(slot, bytes, hash);
const tokenRows = rows.map((input, slot) => ({ input, slot }));
await executor.run(tokenRows);
const started = performance.now();
for (let n = 0; n < RUNS; n++) await executor.run(tokenRows);
const jsMs = (performance.now() - started) / RUNS;
await executor.release();

const ms = (us: number) => Number((us / 1000 / RUNS).toFixed(2));
const extra = runner.whole - base.whole;
const kinds = [...new Set([...runner.byKind.keys(), ...base.byKind.keys()])];
const table = kinds
  .map((kind) => ({ kind, base: base.byKind.get(kind) ?? 0, runner: runner.byKind.get(kind) ?? 0 }))
  .sort((a, b) => b.runner - b.base - (a.runner - a.base))
  .map(({ kind, base, runner }) => ({
    what: kind,
    "base alone, ms": ms(base),
    "runner, ms": ms(runner),
    "runner − base, ms": ms(runner - base),
    "share of the runner's extra": `${((100 * (runner - base)) / extra).toFixed(1)} %`,
  }));
table.push({
  what: "onnxruntime runs, as the profiler saw them",
  "base alone, ms": ms(base.whole),
  "runner, ms": ms(runner.whole),
  "runner − base, ms": ms(extra),
  "share of the runner's extra": "100 %",
});
table.push({
  what: "UseLiteExecutor.run, timed from JavaScript (unprofiled)",
  "base alone, ms": 0,
  "runner, ms": Number(jsMs.toFixed(2)),
  "runner − base, ms": 0,
  "share of the runner's extra": "",
});
report(
  `Where a worst-case batch goes beyond the base alone (${BATCH} rows, ${BATCH} adapters, arena rank ${ARENA_RANK})`,
  table,
  {
    runs: `${RUNS} batches of ${batches.length} runs (buckets ${[...buckets.keys()].sort((a, b) => a - b).join(", ")}), one thread, ms per batch`,
    "runner / base alone, profiled runs": (base.whole / runner.whole).toFixed(3),
  },
);

// `npm run bench:serving:profile`: where a run of the runner's USE-lite gather graph goes, from
// onnxruntime's own profiler: the worst-case batch of bench:serving (32 rows over 32 adapters,
// rank 8 on all ten modules, one run per token bucket), node times summed by kind over
// BENCH_RUNS batches (20), against the whole batch timed from JavaScript (UseLiteExecutor.run:
// padding, feeds, the runs, the heads' softmax).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { USE_LITE_MODULE_NAMES } from "../ml/base/useLite/modules";
import { paddedBatch, runUseLite } from "../ml/base/useLite/useLiteBase";
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

/** A node's kind: the LoRA side path's gathers and products, or the frozen graph's by op type. */
const MODULE_OUTPUTS = new Set(USE_LITE_MODULE_NAMES.map((module) => `Add:${module}_kernel_time`));

function kindOf(event: ProfileEvent): string {
  const op = event.args?.op_name ?? "?";
  // A targeted module's output adds its delta to the frozen output (`<module>.frozen`).
  if (MODULE_OUTPUTS.has(event.name)) return "LoRA: Add of the delta to the frozen output";
  if (event.name.includes("lora") && op === "Gather") return "LoRA: Gather of each row's factors";
  if (event.name.includes("lora") && (op === "MatMul" || op === "FusedMatMul"))
    return "LoRA: batched MatMuls (down, up)";
  if (event.name.includes("lora")) return `LoRA: other (${op})`;
  if (op === "MatMul" || op === "FusedMatMul" || op === "Gemm") return "frozen: MatMul";
  return `frozen: ${op}`;
}

const adapters = benchAdapters(BATCH);
const rows = realisticRows(BATCH);
const gather = useLiteGatherGraph();
const arena = new UseLiteArena(BATCH, ARENA_RANK, gather.biases);
for (const [slot, { decoded }] of adapters.entries()) arena.write(slot, decoded.adapter);
const profileDir = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-profile-"));
const session = await ort.InferenceSession.create(gather.onnx, {
  executionProviders: ["cpu"],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  enableProfiling: true,
  profileFilePrefix: path.join(profileDir, "run"),
});
const buckets = new Map<number, number[]>();
rows.forEach((row, i) => {
  const bucket = tokenBucket(row.length);
  buckets.set(bucket, [...(buckets.get(bucket) ?? []), i]);
});
const runs = [...buckets].map(([tokens, indices]) => ({
  batch: paddedBatch(
    indices.map((i) => rows[i] as number[]),
    tokens,
  ),
  feeds: { ...arena.feeds, ...arena.indexFeeds(indices) },
}));
for (let n = 0; n < RUNS; n++) for (const run of runs) await runUseLite(session, run.batch, run.feeds);
session.endProfiling();
const file = path.join(profileDir, readdirSync(profileDir)[0] as string);
const events = JSON.parse(readFileSync(file, "utf8")) as ProfileEvent[];
rmSync(profileDir, { recursive: true, force: true });
await session.release();

const byKind = new Map<string, number>();
let whole = 0;
for (const event of events) {
  if (event.cat === "Session" && event.name === "model_run") whole += event.dur;
  if (event.cat !== "Node" || !event.name.endsWith("_kernel_time")) continue;
  byKind.set(kindOf(event), (byKind.get(kindOf(event)) ?? 0) + event.dur);
}
const executor = await UseLiteExecutor.create({ slots: BATCH, maxRank: ARENA_RANK, maxClasses: 8 });
for (const [slot, { bytes, hash }] of adapters.entries()) executor.load(slot, bytes, hash);
const tokenRows = rows.map((input, slot) => ({ input, slot }));
await executor.run(tokenRows);
const started = performance.now();
for (let n = 0; n < RUNS; n++) await executor.run(tokenRows);
const jsMs = (performance.now() - started) / RUNS;
await executor.release();

const ms = (us: number) => Number((us / 1000 / RUNS).toFixed(2));
const table = [...byKind]
  .sort((a, b) => b[1] - a[1])
  .map(([kind, us]) => ({
    what: kind,
    "ms per batch": ms(us),
    share: `${((100 * us) / whole).toFixed(1)} %`,
  }));
table.push({ what: "onnxruntime runs, as the profiler saw them", "ms per batch": ms(whole), share: "100 %" });
table.push({
  what: "UseLiteExecutor.run, timed from JavaScript (unprofiled)",
  "ms per batch": Number(jsMs.toFixed(2)),
  share: "",
});
report(`Where a worst-case batch goes (${BATCH} rows, ${BATCH} adapters, arena rank ${ARENA_RANK})`, table, {
  runs: `${RUNS} batches of ${runs.length} runs (buckets ${[...buckets.keys()].sort((a, b) => a - b).join(", ")}), one thread`,
});

// `npm run bench:serving`: a batch of 32 rows over 32 different adapters, at the 768-wide
// benchmark base and at the lande base. Compares, in one process on the same inputs:
//   gather      one run of the multi-adapter gather graph (what the runner does)
//   merged      one merged-weights session per adapter, one run per row (the classic way)
//   per-row     the gather graph, one run per row (no batching)
//   base alone  the base model without adapters, one batched run (the ceiling)
// at 1 and 2 onnxruntime threads per session.
import * as ort from "onnxruntime-node";
import { type BaseModel, landeBaseModel, wideBenchmarkBase } from "../ml/base/baseModel";
import { Rng } from "../ml/random";
import { createMergedSession } from "../runner/executor/mergedSession";
import { MultiAdapterExecutor } from "../runner/executor/multiAdapterExecutor";
import { randomAdapter } from "../runner/testing/randomAdapter";
import { opsPerSecond, report } from "./table";

const BATCH = 32;
const RANK = 8;

const LABELS = ["a", "b", "c", "d"];
const CLASSES = LABELS.length;

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

  const executor = await MultiAdapterExecutor.create(
    base,
    { slots: BATCH, maxRank: RANK, maxClasses: CLASSES },
    threads,
  );
  for (const [slot, adapter] of adapters.entries()) executor.arena.write(slot, adapter);
  const merged = await Promise.all(adapters.map((adapter) => createMergedSession(base, adapter, threads)));
  const baseSession = await ort.InferenceSession.create(base.onnx, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const batchFeatures = new Float32Array(BATCH * d);
  for (const [i, row] of rows.entries()) batchFeatures.set(row.features, i * d);

  const gather = await opsPerSecond(() => executor.run(rows), 2_000, 1);
  const mergedRate = await opsPerSecond(
    () =>
      Promise.all(
        merged.map((session, i) =>
          session.run({
            features: new ort.Tensor("float32", (rows[i] as (typeof rows)[number]).features, [1, d]),
          }),
        ),
      ),
    2_000,
    1,
  );
  const perRow = await opsPerSecond(
    async () => {
      for (const row of rows) await executor.run([row]);
    },
    2_000,
    1,
  );
  const baseAlone = await opsPerSecond(
    () => baseSession.run({ features: new ort.Tensor("float32", batchFeatures, [BATCH, d]) }),
    2_000,
    1,
  );
  await Promise.all([executor.release(), baseSession.release(), ...merged.map((s) => s.release())]);
  const row = (method: string, batchesPerSecond: number) => ({
    base: base.id,
    threads,
    method,
    "batches/s": Math.round(batchesPerSecond),
    "rows/s": Math.round(batchesPerSecond * BATCH),
    "ms/batch": Number((1000 / batchesPerSecond).toFixed(3)),
    "vs gather": Number((batchesPerSecond / gather).toFixed(2)),
  });
  return [
    row("gather (runner)", gather),
    row("merged session per adapter", mergedRate),
    row("gather, one run per row", perRow),
    row("base alone, no adapters", baseAlone),
  ];
}

// Every method gets the same onnxruntime thread count: 1 (the runner's default, which leaves the
// other core to HTTP and payments) and 2 (the whole machine). BENCH_THREADS=1 runs one.
const threadCounts = (process.env.BENCH_THREADS ?? "1,2").split(",").map(Number);
const rows = [];
for (const threads of threadCounts)
  for (const base of [wideBenchmarkBase(), landeBaseModel()]) rows.push(...(await measure(base, threads)));
report(`serving: batch of ${BATCH} rows over ${BATCH} adapters (rank ${RANK})`, rows, {
  aims: "gather ≥ 10× merged sessions, ≥ 0.7× base alone",
});

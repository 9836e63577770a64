/**
 * Scores a PEFT classifier on labelled rows through the runner's own serving path: the adapter
 * directory is verified as a registry would (loadPeftAdapter), its bytes are loaded into a
 * UseLiteExecutor as the runner's cache loads them, and the rows run in the executor's batches.
 * What `openlora eval` prints is therefore what a runner serving the adapter would answer.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { ADAPTER_FILE } from "../ml/adapter/adapterFile";
import { ModelError } from "../ml/errors";
import { loadPeftAdapter } from "../ml/peft/adapterDirectory";
import type { Example } from "../ml/training/dataset";
import { argmax, type ClassificationScores, classificationScores } from "../ml/training/metrics";
import { PEFT_ADAPTER_FILE } from "./adapterSource";
import { UseLiteExecutor } from "./executor/useLiteExecutor";

/** The adapter cannot be scored on these rows: no head, or labels it does not know. */
export class EvaluationError extends ModelError {}

export interface AdapterScore extends ClassificationScores {
  adapterHash: Hex;
  /** The adapter's labels, in its head's order: the confusion matrix's rows and columns. */
  labels: string[];
}

/** Rows per executor run (the runner's default micro-batch). */
const BATCH = 32;

/**
 * Scores the adapter in `dir` on `examples`. Throws the PEFT loader's typed errors for a
 * directory it refuses (tampered bytes, a config that disagrees, ...) and EvaluationError for an
 * adapter without a head or rows labelled with labels the adapter does not know.
 */
export async function evaluatePeftAdapter(dir: string, examples: readonly Example[]): Promise<AdapterScore> {
  if (!existsSync(join(dir, PEFT_ADAPTER_FILE)) && existsSync(join(dir, ADAPTER_FILE))) {
    throw new EvaluationError(
      `adapter ${dir} holds ${ADAPTER_FILE}, a lande adapter: eval scores PEFT adapters on USE-lite (${PEFT_ADAPTER_FILE})`,
      { adapter: dir },
    );
  }
  const loaded = loadPeftAdapter(dir);
  const head = loaded.adapter.head;
  if (!head) {
    throw new EvaluationError(
      `adapter ${dir} has no classification head: it serves embeddings, and eval scores classifiers`,
      { adapter: dir },
    );
  }
  const index = new Map(head.labels.map((label, i) => [label, i]));
  const unknown = [...new Set(examples.map((e) => e.label).filter((label) => !index.has(label)))].sort();
  if (unknown.length > 0) {
    throw new EvaluationError(
      `the data has labels the adapter does not know: ${unknown.join(", ")} (its labels: ${head.labels.join(", ")})`,
      { unknown, labels: head.labels },
    );
  }
  const executor = await UseLiteExecutor.create({
    slots: 1,
    maxRank: loaded.adapter.config.r,
    maxClasses: head.labels.length,
    threads: availableParallelism(),
  });
  try {
    executor.load(0, loaded.bytes, loaded.hash);
    const predicted: number[] = [];
    for (let start = 0; start < examples.length; start += BATCH) {
      const rows = examples
        .slice(start, start + BATCH)
        .map((example) => ({ input: executor.prepare(example.text), slot: 0 }));
      for (const probabilities of await executor.run(rows)) predicted.push(argmax(probabilities));
    }
    const actual = examples.map((example) => index.get(example.label) as number);
    return {
      adapterHash: loaded.hash,
      labels: head.labels,
      ...classificationScores(actual, predicted, head.labels.length),
    };
  } finally {
    await executor.release();
  }
}

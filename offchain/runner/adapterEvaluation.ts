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
import { PEFT_ADAPTER_FILE } from "./adapterSource";
import { UseLiteExecutor } from "./executor/useLiteExecutor";

/** The adapter cannot be scored on these rows: no head, or labels it does not know. */
export class EvaluationError extends ModelError {}

export interface AdapterScore {
  adapterHash: Hex;
  /** The adapter's labels, in its head's order: the confusion matrix's rows and columns. */
  labels: string[];
  rows: number;
  accuracy: number;
  /** Mean F1 over the adapter's labels (a label neither present nor predicted counts 0). */
  macroF1: number;
  /** confusion[true][predicted], counts. */
  confusion: number[][];
}

/** Rows per executor run (the runner's default micro-batch). */
const BATCH = 32;

/** Accuracy, macro-F1 over `classes` classes, and the confusion matrix of predictions. */
export function classificationScores(
  actual: readonly number[],
  predicted: readonly number[],
  classes: number,
): Pick<AdapterScore, "rows" | "accuracy" | "macroF1" | "confusion"> {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  actual.forEach((truth, i) => {
    const row = confusion[truth] as number[];
    row[predicted[i] as number] = (row[predicted[i] as number] as number) + 1;
  });
  let correct = 0;
  let f1Sum = 0;
  for (let c = 0; c < classes; c++) {
    const tp = (confusion[c] as number[])[c] as number;
    const support = (confusion[c] as number[]).reduce((a, b) => a + b, 0);
    const chosen = confusion.reduce((sum, row) => sum + (row[c] as number), 0);
    correct += tp;
    f1Sum += support + chosen === 0 ? 0 : (2 * tp) / (support + chosen);
  }
  const rows = actual.length;
  return { rows, accuracy: rows === 0 ? 0 : correct / rows, macroF1: f1Sum / classes, confusion };
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

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

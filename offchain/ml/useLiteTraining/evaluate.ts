/**
 * How a USE-lite adapter scores labelled rows: on the path the runner serves (the base's ONNX
 * with the adapter's LoRA side inputs, onnxruntime, the head on the embedding), and from class
 * probabilities to accuracy, loss, macro-F1 and the confusion matrix.
 */
import * as ort from "onnxruntime-node";
import type { Evaluation } from "../adapter/manifest";
import { buildUseLiteOnnx } from "../base/useLite/graph";
import { loadUseLiteSource } from "../base/useLite/source";
import { denseBatch, runUseLite, type UseLiteBase } from "../base/useLite/useLiteBase";
import type { PeftAdapter } from "../peft/adapterModel";
import { classify, sideInputFeeds } from "../peft/loraMath";
import { argmax, classificationScores } from "../training/metrics";

const RUN_ROWS = 32;

/** Accuracy, mean cross-entropy, macro-F1 and confusion[actual][predicted] of probabilities [rows × classes]. */
export function scoreProbabilities(
  probabilities: ArrayLike<number>,
  targets: Int32Array,
  classes: number,
): Evaluation {
  const predicted = new Int32Array(targets.length);
  let loss = 0;
  for (let n = 0; n < targets.length; n++) {
    const row = Array.from({ length: classes }, (_, c) => probabilities[n * classes + c] as number);
    predicted[n] = argmax(row);
    loss -= Math.log(Math.max(row[targets[n] as number] as number, 1e-300));
  }
  return { ...classificationScores(targets, predicted, classes), loss: loss / Math.max(targets.length, 1) };
}

/** Class probabilities [texts × classes] of an adapter with a head, computed as the runner serves it. */
export async function servedProbabilities(
  base: UseLiteBase,
  adapter: PeftAdapter,
  texts: readonly string[],
): Promise<Float32Array> {
  const { head } = adapter;
  if (!head) throw new Error("the adapter has no classification head");
  const modules = adapter.config.target_modules;
  const session = await ort.InferenceSession.create(
    buildUseLiteOnnx(loadUseLiteSource(), { loraModules: modules }),
  );
  const feeds = sideInputFeeds(adapter, modules);
  const classes = head.labels.length;
  const out = new Float32Array(texts.length * classes);
  const ids = texts.map((text) => base.tokenizer.encode(text));
  const order = ids
    .map((_, n) => n)
    .sort((a, b) => (ids[a] as number[]).length - (ids[b] as number[]).length || a - b);
  for (let first = 0; first < order.length; first += RUN_ROWS) {
    const chunk = order.slice(first, first + RUN_ROWS);
    const embeddings = await runUseLite(session, denseBatch(chunk.map((n) => ids[n] as number[])), feeds);
    const probabilities = classify(embeddings, head);
    chunk.forEach((n, r) => {
      out.set(probabilities.subarray(r * classes, (r + 1) * classes), n * classes);
    });
  }
  await session.release();
  return out;
}

import type { Evaluation } from "../adapter/manifest";
import type { EncodedExamples } from "./examples";
import { argmax, type LoraParameters, predictProbabilities } from "./loraModel";

/** Accuracy, mean cross-entropy, macro-F1 and confusion matrix of the parameters on some examples. */
export function evaluate(p: LoraParameters, data: EncodedExamples): Evaluation {
  const C = p.classes;
  const probabilities = predictProbabilities(p, data);
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let loss = 0;
  let correct = 0;
  for (let n = 0; n < data.count; n++) {
    const row = probabilities.subarray(n * C, (n + 1) * C);
    const target = data.targets[n] as number;
    const predicted = argmax(row);
    (confusion[target] as number[])[predicted] = ((confusion[target] as number[])[predicted] as number) + 1;
    if (predicted === target) correct++;
    loss -= Math.log(Math.max(row[target] as number, 1e-300));
  }
  let f1Sum = 0;
  for (let c = 0; c < C; c++) {
    const tp = (confusion[c] as number[])[c] as number;
    const actual = (confusion[c] as number[]).reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((sum, row) => sum + (row[c] as number), 0);
    f1Sum += actual + predicted === 0 ? 0 : (2 * tp) / (actual + predicted);
  }
  const count = Math.max(data.count, 1);
  return {
    rows: data.count,
    accuracy: correct / count,
    loss: loss / count,
    macroF1: f1Sum / C,
    confusion,
  };
}

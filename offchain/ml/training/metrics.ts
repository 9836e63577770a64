/** How a classifier's predictions score: the one place accuracy, macro-F1 and the confusion matrix are counted. */

/** Index of the largest value (the first on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

export interface ClassificationScores {
  rows: number;
  accuracy: number;
  /** Mean F1 over the classes (a class neither present nor predicted counts 0). */
  macroF1: number;
  /** confusion[actual][predicted], counts. */
  confusion: number[][];
}

/** Accuracy, macro-F1 over `classes` classes and the confusion matrix of predicted class indices. */
export function classificationScores(
  actual: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
): ClassificationScores {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < actual.length; i++) {
    const row = confusion[actual[i] as number] as number[];
    row[predicted[i] as number] = (row[predicted[i] as number] as number) + 1;
  }
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

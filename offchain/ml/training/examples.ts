/**
 * Training examples in the form the trainer needs: sparse features (n-gram frequency vectors
 * are mostly zeros) and the frozen base's hidden pre-activation x·W1 + b1, computed once,
 * since the base never changes during training.
 */
import type { BaseModel } from "../base/baseModel";
import { DatasetError } from "../errors";
import type { Example } from "./dataset";

export interface EncodedExamples {
  count: number;
  /** k: width of the base's hidden layer. */
  hiddenDim: number;
  /** CSR layout of the feature matrix. */
  rowStart: Int32Array;
  columns: Int32Array;
  values: Float64Array;
  /** [count × k] base pre-activations. */
  basePre: Float64Array;
  /** Class index of each example. */
  targets: Int32Array;
}

/** Encodes precomputed features [n × d] (float32, as the ONNX model receives them). */
export function encodeFeatures(
  base: BaseModel,
  features: Float32Array,
  targets: Int32Array,
): EncodedExamples {
  const { inputs: d, outputs: k, weights, biases } = base.hidden;
  const count = targets.length;
  const rowStart = new Int32Array(count + 1);
  const columns: number[] = [];
  const values: number[] = [];
  const basePre = new Float64Array(count * k);
  for (let n = 0; n < count; n++) {
    const pre = basePre.subarray(n * k, (n + 1) * k);
    pre.set(biases);
    for (let i = 0; i < d; i++) {
      const x = features[n * d + i] as number;
      if (x === 0) continue;
      columns.push(i);
      values.push(x);
      for (let j = 0; j < k; j++) pre[j] = (pre[j] as number) + x * (weights[i * k + j] as number);
    }
    rowStart[n + 1] = columns.length;
  }
  return {
    count,
    hiddenDim: k,
    rowStart,
    columns: Int32Array.from(columns),
    values: Float64Array.from(values),
    basePre,
    targets,
  };
}

/** Featurizes labelled texts with the base's featurizer; labels must be in `labels`. */
export function encodeExamples(
  base: BaseModel,
  rows: readonly Example[],
  labels: readonly string[],
): EncodedExamples {
  if (!base.featurizer) throw new DatasetError(`base ${base.id} does not read text`);
  const index = new Map(labels.map((label, i) => [label, i]));
  const targets = Int32Array.from(rows, (row, i) => {
    const target = index.get(row.label);
    if (target === undefined) {
      throw new DatasetError(`row ${i + 1} has label "${row.label}", unknown to this adapter`, { labels });
    }
    return target;
  });
  const features = base.featurizer.featurizeAll(rows.map((row) => row.text));
  return encodeFeatures(base, features, targets);
}

/** A subset of the examples, in the given order. */
export function selectExamples(source: EncodedExamples, indices: readonly number[]): EncodedExamples {
  const k = source.hiddenDim;
  const rowStart = new Int32Array(indices.length + 1);
  const columns: number[] = [];
  const values: number[] = [];
  const basePre = new Float64Array(indices.length * k);
  indices.forEach((n, row) => {
    for (let p = source.rowStart[n] as number; p < (source.rowStart[n + 1] as number); p++) {
      columns.push(source.columns[p] as number);
      values.push(source.values[p] as number);
    }
    rowStart[row + 1] = columns.length;
    basePre.set(source.basePre.subarray(n * k, (n + 1) * k), row * k);
  });
  return {
    count: indices.length,
    hiddenDim: k,
    rowStart,
    columns: Int32Array.from(columns),
    values: Float64Array.from(values),
    basePre,
    targets: Int32Array.from(indices, (n) => source.targets[n] as number),
  };
}

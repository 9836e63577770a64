import type { DatasetRecord } from "../adapter/manifest";
import { DatasetError, TrainingConfigError } from "../errors";
import { Rng } from "../random";
import { type Dataset, type Example, labelsOf } from "./dataset";

/**
 * Stratified held-out split: for each label, a seeded shuffle of its rows and the first
 * round(n × fraction) go to the held-out set. Row order inside each part follows the file.
 */
export function stratifiedSplit(
  rows: readonly Example[],
  fraction: number,
  seed: number,
): { train: Example[]; test: Example[] } {
  const heldOut = new Set<number>();
  for (const label of labelsOf(rows)) {
    const indices = rows.flatMap((row, i) => (row.label === label ? [i] : []));
    Rng.derive(seed, "split", label).shuffle(indices);
    for (const i of indices.slice(0, Math.round(indices.length * fraction))) heldOut.add(i);
  }
  return {
    train: rows.filter((_, i) => !heldOut.has(i)),
    test: rows.filter((_, i) => heldOut.has(i)),
  };
}

export interface SplitData {
  train: Example[];
  test: Example[];
  labels: string[];
  records: DatasetRecord[];
}

/** Reads the data files and forms the train/held-out split and the label set. */
export function prepareData(
  datasets: Dataset[],
  testSet: Dataset | undefined,
  holdout: number,
  seed: number,
): SplitData {
  const rows = datasets.flatMap((dataset) => dataset.rows);
  const records: DatasetRecord[] = datasets.map((d) => ({
    name: d.name,
    hash: d.hash,
    rows: d.rows.length,
    role: "train",
  }));
  let split: { train: Example[]; test: Example[] };
  if (testSet) {
    split = { train: rows, test: testSet.rows };
    records.push({ name: testSet.name, hash: testSet.hash, rows: testSet.rows.length, role: "test" });
  } else if (holdout > 0) {
    split = stratifiedSplit(rows, holdout, seed);
  } else {
    throw new TrainingConfigError("no held-out data: give a test file or a holdout fraction above 0");
  }
  const labels = labelsOf(split.train);
  if (labels.length < 2) throw new DatasetError("training data needs at least two labels", { labels });
  const unknown = labelsOf(split.test).filter((label) => !labels.includes(label));
  if (unknown.length > 0)
    throw new DatasetError("held-out data has labels absent from training data", { unknown });
  if (split.test.length === 0) throw new DatasetError("held-out set is empty: add rows or raise the holdout");
  return { ...split, labels, records };
}

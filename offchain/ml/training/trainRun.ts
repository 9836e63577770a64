/**
 * `openlora train` end to end: read the data files, split off held-out rows (or read a test
 * file), train, evaluate the stored (float32) adapter on both parts, write the adapter and
 * its manifest. Nothing time- or machine-dependent goes into the outputs.
 */

import { saveAdapter } from "../adapter/adapterFile";
import type { AdapterManifest, DatasetRecord } from "../adapter/manifest";
import type { BaseModel } from "../base/baseModel";
import { landeBaseModel } from "../base/baseModel";
import { DatasetError, TrainingConfigError } from "../errors";
import { parseTrainConfig, type TrainConfigInput } from "./config";
import { type Dataset, type Example, labelsOf, readDataset } from "./dataset";
import { evaluate } from "./evaluate";
import { encodeExamples } from "./examples";
import { roundToFloat32, toAdapter } from "./loraModel";
import { stratifiedSplit } from "./split";
import { type ProgressListener, trainParameters } from "./trainer";

export interface TrainRunOptions {
  /** One or more data files (.csv or .jsonl), used together. */
  data: string[];
  /** A held-out test file; without it, `holdout` of each label's rows are held out. */
  test?: string;
  out: string;
  name?: string;
  config: TrainConfigInput;
  base?: BaseModel;
  onEpoch?: ProgressListener;
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

export interface TrainRunResult {
  manifest: AdapterManifest;
  out: string;
}

export function trainRun(options: TrainRunOptions): TrainRunResult {
  const config = parseTrainConfig(options.config);
  if (options.data.length === 0) throw new DatasetError("no data file given");
  const datasets = options.data.map(readDataset);
  const testSet = options.test ? readDataset(options.test) : undefined;
  const { train, test, labels, records } = prepareData(datasets, testSet, config.holdout, config.seed);
  const base = options.base ?? landeBaseModel();
  const trainData = encodeExamples(base, train, labels);
  const testData = encodeExamples(base, test, labels);
  const params = trainParameters(base, trainData, labels.length, config, options.onEpoch);
  const stored = roundToFloat32(params);
  const manifest = saveAdapter(options.out, base, toAdapter(params, labels), {
    name:
      options.name ?? datasets.map((d) => d.name.replace(/(\.gz)?$/i, "").replace(/\.[^.]+$/, "")).join("+"),
    seed: config.seed,
    datasets: records,
    contributors: [],
    training: { mode: "single", ...config, holdout: testSet ? 0 : config.holdout },
    metrics: { train: evaluate(stored, trainData), heldOut: evaluate(stored, testData) },
  });
  return { manifest, out: options.out };
}

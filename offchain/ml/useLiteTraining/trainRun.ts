/**
 * `openlora train` on USE-lite end to end: read the data files, split off held-out rows (or
 * read a test file), cache the frozen base's activations, train, and write the adapter as PEFT
 * does with our manifest. Held-out metrics are measured on the path the runner serves.
 * Nothing time- or machine-dependent goes into the outputs.
 */
import { useLiteBase } from "../base/useLite/useLiteBase";
import { DatasetError } from "../errors";
import { savePeftAdapter } from "../peft/adapterDirectory";
import type { PeftManifest } from "../peft/manifest";
import { Rng } from "../random";
import { readDataset } from "../training/dataset";
import { prepareData } from "../training/split";
import { computeActivations, frozenWeights, tokenize } from "./activations";
import { toPeftAdapter } from "./adapter";
import { parseUseLiteTrainConfig, type UseLiteTrainConfig, type UseLiteTrainConfigInput } from "./config";
import { scoreProbabilities, servedProbabilities } from "./evaluate";
import { roundToFloat32, UseLiteLoraModel, type UseLiteLoraParameters } from "./model";
import { trainTargets } from "./targets";
import { initialParameters, type ProgressListener, runEpochs } from "./trainer";

export interface UseLiteTrainOptions {
  /** One or more data files (.csv or .jsonl), used together. */
  data: string[];
  /** A held-out test file; without it, `holdout` of each label's rows are held out. */
  test?: string;
  out: string;
  name?: string;
  config: UseLiteTrainConfigInput;
  onEpoch?: ProgressListener;
}

/** Trains on labelled rows; returns the float64 parameters and the model over the training rows. */
export async function trainOnRows(
  texts: readonly string[],
  targets: Int32Array,
  classes: number,
  config: UseLiteTrainConfig,
  onEpoch?: ProgressListener,
): Promise<{ params: UseLiteLoraParameters; model: UseLiteLoraModel }> {
  const modules = trainTargets(config.targets);
  const activations = await computeActivations(tokenize(useLiteBase(), texts, config.maxTokens), modules);
  const model = new UseLiteLoraModel(activations, frozenWeights());
  const params = initialParameters(modules, classes, config, config.seed);
  runEpochs(model, params, targets, config, Rng.derive(config.seed, "shuffle"), onEpoch);
  return { params, model };
}

export async function useLiteTrainRun(
  options: UseLiteTrainOptions,
): Promise<{ manifest: PeftManifest; out: string }> {
  const config = parseUseLiteTrainConfig(options.config);
  if (options.data.length === 0) throw new DatasetError("no data file given");
  const datasets = options.data.map(readDataset);
  const testSet = options.test ? readDataset(options.test) : undefined;
  const { train, test, labels, records } = prepareData(datasets, testSet, config.holdout, config.seed);
  const targetsOf = (rows: typeof train) => Int32Array.from(rows, (row) => labels.indexOf(row.label));
  const trainTargetsIndex = targetsOf(train);
  const { params, model } = await trainOnRows(
    train.map((row) => row.text),
    trainTargetsIndex,
    labels.length,
    config,
    options.onEpoch,
  );
  const stored = roundToFloat32(params);
  const adapter = toPeftAdapter(stored, labels, { alpha: config.alpha, useRslora: config.useRslora });
  const heldOut = await servedProbabilities(
    useLiteBase(),
    adapter,
    test.map((row) => row.text),
  );
  const manifest = savePeftAdapter(options.out, adapter, {
    name:
      options.name ?? datasets.map((d) => d.name.replace(/(\.gz)?$/i, "").replace(/\.[^.]+$/, "")).join("+"),
    seed: config.seed,
    datasets: records,
    contributors: [],
    training: {
      mode: "single",
      rank: config.rank,
      alpha: config.alpha,
      epochs: config.epochs,
      learningRate: config.learningRate,
      batchSize: config.batchSize,
      weightDecay: config.weightDecay,
      holdout: testSet ? 0 : config.holdout,
      seed: config.seed,
      maxTokens: config.maxTokens,
    },
    metrics: {
      train: scoreProbabilities(model.predict(stored), trainTargetsIndex, labels.length),
      heldOut: scoreProbabilities(heldOut, targetsOf(test), labels.length),
    },
  });
  return { manifest, out: options.out };
}

// `npm run bench:training [-- --json]`: which layers USE-lite adapters train by default, and why.
// On the crypto-sentiment training rows only (the held-out 20 % that `openlora train` sets
// aside, seed 0, is never read), 4-fold stratified cross-validation: for each choice of LoRA
// targets (and the head alone, the frozen base) and two learning rates, the mean validation
// accuracy and the seconds one fit takes; plus the seconds to cache the base's activations,
// and one epoch of ffn.in training (token activations) for its cost. Defaults are chosen from
// this table, never from held-out scores.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { useLiteBase } from "../ml/base/useLite/useLiteBase";
import { Rng } from "../ml/random";
import { readDataset } from "../ml/training/dataset";
import { argmax } from "../ml/training/metrics";
import { prepareData } from "../ml/training/split";
import {
  type Activations,
  computeActivations,
  frozenWeights,
  selectActivations,
  tokenize,
} from "../ml/useLiteTraining/activations";
import { UseLiteLoraModel } from "../ml/useLiteTraining/model";
import { TRAINABLE_MODULES, type TrainableModule } from "../ml/useLiteTraining/targets";
import { initialParameters, runEpochs } from "../ml/useLiteTraining/trainer";
import { report } from "./table";

const FOLDS = 4;
const EPOCHS = 40;
const RATES = [0.003, 0.01];
const CHOICES: { name: string; targets: TrainableModule[] }[] = [
  { name: "head only (frozen base)", targets: [] },
  { name: "pooler.dense", targets: ["pooler.dense"] },
  { name: "layer 1 ffn.out", targets: ["encoder.layer.1.ffn.out"] },
  { name: "layer 1 ffn.out + pooler.dense", targets: ["encoder.layer.1.ffn.out", "pooler.dense"] },
];

const DATA = fileURLToPath(new URL("../ml/data/crypto-sentiment", import.meta.url));

function trainingRows() {
  const files = readdirSync(DATA)
    .filter((file) => /^batch-\d+\.jsonl$/.test(file))
    .sort();
  return prepareData(
    files.map((file) => readDataset(join(DATA, file))),
    undefined,
    0.2,
    0,
  );
}

/** Folds: each row's fold, stratified by label (seeded). */
function folds(labels: readonly string[]): Int32Array {
  const fold = new Int32Array(labels.length);
  for (const label of new Set(labels)) {
    const rows = labels.flatMap((l, i) => (l === label ? [i] : []));
    Rng.derive(0, "folds", label).shuffle(rows);
    rows.forEach((row, i) => {
      fold[row] = i % FOLDS;
    });
  }
  return fold;
}

function fitAndScore(
  all: Activations,
  targets: Int32Array,
  fold: Int32Array,
  k: number,
  modules: TrainableModule[],
  rate: number,
  classes: number,
) {
  const fit = [...fold.keys()].filter((i) => fold[i] !== k);
  const check = [...fold.keys()].filter((i) => fold[i] === k);
  const model = new UseLiteLoraModel(selectActivations(all, fit), frozenWeights());
  const params = initialParameters(modules, classes, { rank: 8, alpha: 16, useRslora: false }, 0);
  const started = performance.now();
  const options = { epochs: EPOCHS, batchSize: 32, learningRate: rate, weightDecay: 0 };
  runEpochs(
    model,
    params,
    Int32Array.from(fit, (i) => targets[i] as number),
    options,
    Rng.derive(0, "shuffle"),
  );
  const seconds = (performance.now() - started) / 1000;
  const probabilities = new UseLiteLoraModel(selectActivations(all, check), frozenWeights()).predict(params);
  const correct = check.filter(
    (i, n) => argmax(probabilities.subarray(n * classes, (n + 1) * classes)) === targets[i],
  ).length;
  return { accuracy: correct / check.length, seconds };
}

async function main() {
  const { train, labels } = trainingRows();
  const targets = Int32Array.from(train, (row) => labels.indexOf(row.label));
  const fold = folds(train.map((row) => row.label));
  let started = performance.now();
  const ids = tokenize(
    useLiteBase(),
    train.map((row) => row.text),
    128,
  );
  const rowActivations = await computeActivations(ids, ["pooler.dense"]);
  const cacheSeconds = (performance.now() - started) / 1000;
  const rows: Record<string, string | number>[] = [];
  for (const choice of CHOICES) {
    for (const rate of RATES) {
      const results = Array.from({ length: FOLDS }, (_, k) =>
        fitAndScore(rowActivations, targets, fold, k, choice.targets, rate, labels.length),
      );
      rows.push({
        targets: choice.name,
        "learning rate": rate,
        "CV accuracy": (results.reduce((sum, r) => sum + r.accuracy, 0) / FOLDS).toFixed(4),
        "s per fit": (results.reduce((sum, r) => sum + r.seconds, 0) / FOLDS).toFixed(2),
      });
    }
  }
  started = performance.now();
  const withTokens = await computeActivations(ids, TRAINABLE_MODULES);
  const tokenCacheSeconds = (performance.now() - started) / 1000;
  const model = new UseLiteLoraModel(withTokens, frozenWeights());
  const params = initialParameters(
    TRAINABLE_MODULES,
    labels.length,
    { rank: 8, alpha: 16, useRslora: false },
    0,
  );
  started = performance.now();
  runEpochs(
    model,
    params,
    targets,
    { epochs: 1, batchSize: 32, learningRate: 0.003, weightDecay: 0 },
    Rng.derive(0, "shuffle"),
  );
  const ffnInEpoch = (performance.now() - started) / 1000;
  report("USE-lite LoRA targets, crypto-sentiment training rows, 4-fold CV", rows, {
    rows: train.length,
    epochs: EPOCHS,
    "s to cache the base's row activations": cacheSeconds.toFixed(1),
    "s to cache token activations (ffn.in)": tokenCacheSeconds.toFixed(1),
    "s per epoch with ffn.in + ffn.out + pooler.dense": ffnInEpoch.toFixed(1),
  });
}

void main();

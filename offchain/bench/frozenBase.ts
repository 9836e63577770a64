// `npm run bench:frozen-base [-- --json]`: does LoRA beat the frozen base? On the crypto-sentiment
// split `openlora train` uses (20 % held out, seed 0), the head alone trained on the frozen
// USE-lite embeddings with the trainer's defaults (40 epochs, learning rate 0.003, batch 32),
// against the committed adapter's held-out score. A report, run after the defaults were chosen
// (bench:training chose them on the training rows alone); it chooses nothing.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { useLiteBase } from "../ml/base/useLite/useLiteBase";
import { loadPeftAdapter } from "../ml/peft/adapterDirectory";
import { Rng } from "../ml/random";
import { readDataset } from "../ml/training/dataset";
import { prepareData } from "../ml/training/split";
import { computeActivations, frozenWeights, tokenize } from "../ml/useLiteTraining/activations";
import { parseUseLiteTrainConfig } from "../ml/useLiteTraining/config";
import { scoreProbabilities } from "../ml/useLiteTraining/evaluate";
import { roundToFloat32, UseLiteLoraModel } from "../ml/useLiteTraining/model";
import { initialParameters, runEpochs } from "../ml/useLiteTraining/trainer";
import { report } from "./table";

const ML = fileURLToPath(new URL("../ml/", import.meta.url));
const DATA = join(ML, "data", "crypto-sentiment");

async function main() {
  const config = parseUseLiteTrainConfig({ seed: 0 });
  const files = readdirSync(DATA)
    .filter((file) => /^batch-\d+\.jsonl$/.test(file))
    .sort();
  const { train, test, labels } = prepareData(
    files.map((file) => readDataset(join(DATA, file))),
    undefined,
    config.holdout,
    config.seed,
  );
  const classesOf = (rows: typeof train) => Int32Array.from(rows, (row) => labels.indexOf(row.label));
  const model = async (rows: typeof train) =>
    new UseLiteLoraModel(
      await computeActivations(
        tokenize(
          useLiteBase(),
          rows.map((row) => row.text),
          config.maxTokens,
        ),
        ["pooler.dense"],
      ),
      frozenWeights(),
    );
  const head = initialParameters([], labels.length, config, config.seed);
  runEpochs(await model(train), head, classesOf(train), config, Rng.derive(config.seed, "shuffle"));
  const frozen = scoreProbabilities(
    (await model(test)).predict(roundToFloat32(head)),
    classesOf(test),
    labels.length,
  );
  const committed = loadPeftAdapter(join(ML, "models", "crypto-sentiment")).manifest;
  report(
    "crypto-sentiment held-out rows: the frozen base's head alone against the committed LoRA adapter",
    [
      {
        model: "head alone on the frozen base",
        "held-out accuracy": frozen.accuracy.toFixed(4),
        "macro-F1": frozen.macroF1.toFixed(4),
      },
      {
        model: `LoRA on ${committed.lora.targetModules.join(" + ")} (committed)`,
        "held-out accuracy": committed.metrics.heldOut?.accuracy.toFixed(4) ?? "-",
        "macro-F1": committed.metrics.heldOut?.macroF1.toFixed(4) ?? "-",
      },
    ],
    { "train / held-out rows": `${train.length} / ${test.length}` },
  );
}

void main();

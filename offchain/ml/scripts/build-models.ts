/**
 * Rebuilds the committed model artifacts (`npm run models`):
 *  - models/base/lande-t50.onnx: the lande base converted to ONNX (and base.json: its hash);
 *  - models/spam-filter/: LoRA adapter + head trained on the SpamAssassin fixture;
 *  - models/crypto-sentiment/: LoRA adapter + head trained on the hand-written posts.
 * Training is deterministic: rerunning gives byte-identical files (tests check the hashes).
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { formatJson } from "../adapter/json";
import type { AdapterManifest } from "../adapter/manifest";
import { landeBaseModel } from "../base/baseModel";
import type { TrainConfigInput } from "../training/config";
import { trainRun } from "../training/trainRun";

const ML_DIR = fileURLToPath(new URL("..", import.meta.url));
export const MODELS_DIR = join(ML_DIR, "models");
const DATA_DIR = join(ML_DIR, "data");

export interface ModelSpec {
  name: string;
  data: string[];
  config: TrainConfigInput;
}

function sentimentBatches(): string[] {
  const dir = join(DATA_DIR, "crypto-sentiment");
  return readdirSync(dir)
    .filter((file) => /^batch-\d+\.jsonl$/.test(file))
    .sort()
    .map((file) => join(dir, file));
}

/** The two adapters: default hyper-parameters of `openlora train`, 20% stratified held out. */
export function modelSpecs(): ModelSpec[] {
  return [
    { name: "spam-filter", data: [join(DATA_DIR, "spam-assassin", "emails.jsonl.gz")], config: { seed: 0 } },
    { name: "crypto-sentiment", data: sentimentBatches(), config: { seed: 0 } },
  ];
}

export function writeBaseModel(root = MODELS_DIR): { path: string; hash: string } {
  const base = landeBaseModel();
  const dir = join(root, "base");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${base.id}.onnx`);
  writeFileSync(path, base.onnx);
  const info = {
    id: base.id,
    hash: base.hash,
    file: `${base.id}.onnx`,
    bytes: base.onnx.length,
    inputDim: base.hidden.inputs,
    hiddenDim: base.hidden.outputs,
    outputDim: base.output.outputs,
    loraTarget: "hidden",
    labels: base.labels,
  };
  writeFileSync(join(dir, "base.json"), formatJson(info));
  return { path, hash: base.hash };
}

export function trainModel(spec: ModelSpec, root = MODELS_DIR, quiet = false): AdapterManifest {
  return trainRun({
    data: spec.data,
    out: join(root, spec.name),
    name: spec.name,
    config: spec.config,
    ...(quiet
      ? {}
      : {
          onEpoch: ({ epoch, epochs, loss }: { epoch: number; epochs: number; loss: number }) => {
            if (epoch % 10 === 0 || epoch === epochs)
              console.error(`${spec.name}: epoch ${epoch}/${epochs} loss ${loss.toFixed(4)}`);
          },
        }),
  }).manifest;
}

function main(): void {
  const base = writeBaseModel();
  console.log(`base   ${base.hash}  ${base.path}`);
  console.log("| adapter | rows (train / held-out) | held-out accuracy | macro-F1 | adapter hash |");
  console.log("|---|---|---|---|---|");
  for (const spec of modelSpecs()) {
    const started = performance.now();
    const m = trainModel(spec);
    const { train, heldOut } = m.metrics;
    console.log(
      `| ${m.name} | ${train.rows} / ${heldOut.rows} | ${heldOut.accuracy.toFixed(4)} | ${heldOut.macroF1.toFixed(4)} | ${m.adapter.hash} |`,
    );
    console.error(`${spec.name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

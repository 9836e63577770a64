/**
 * Rebuilds the committed model artifacts (`npm run models`):
 *  - models/base/lande-t50.onnx: the lande base converted to ONNX (and base.json: its hash);
 *  - models/spam-filter/: LoRA adapter + head trained on the SpamAssassin fixture;
 *  - models/crypto-sentiment/: LoRA adapter + head trained on the hand-written posts;
 *  - models/spam-cotrained/: a co-training example: three contributors holding disjoint
 *    shards of the spam fixture (1,200 / 600 / 300 rows), federated training, Shapley
 *    contributions and proposed share units in the manifest.
 * Training is deterministic: rerunning gives byte-identical files (tests check the hashes).
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { formatJson } from "../adapter/json";
import type { AdapterManifest } from "../adapter/manifest";
import { landeBaseModel } from "../base/baseModel";
import { cotrainRun } from "../cotraining/cotrainRun";
import { Rng } from "../random";
import type { TrainConfigInput } from "../training/config";
import { type Example, readDataset } from "../training/dataset";
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

function writeJsonl(path: string, rows: readonly Example[]): string {
  writeFileSync(
    path,
    `${rows.map((row) => JSON.stringify({ text: row.text, label: row.label })).join("\n")}\n`,
  );
  return path;
}

/**
 * The co-training example: the spam fixture shuffled (seed 7) and cut into three
 * contributors' shards, a validation set (600 rows) and a test set (the rest). The shards
 * are written to a temporary folder; their names and hashes go into the manifest.
 */
export function cotrainExample(root = MODELS_DIR): AdapterManifest {
  const rows = new Rng(7).shuffle([...readDataset(join(DATA_DIR, "spam-assassin", "emails.jsonl.gz")).rows]);
  const dir = mkdtempSync(join(tmpdir(), "openlora-spam-shards-"));
  const cut = (name: string, from: number, to: number) =>
    writeJsonl(join(dir, `${name}.jsonl`), rows.slice(from, to));
  return cotrainRun({
    contributors: [
      { id: "alice", file: cut("alice", 0, 1200) },
      { id: "bob", file: cut("bob", 1200, 1800) },
      { id: "carol", file: cut("carol", 1800, 2100) },
    ],
    validation: cut("validation", 2100, 2700),
    test: cut("test", 2700, rows.length),
    out: join(root, "spam-cotrained"),
    name: "spam-cotrained",
    config: { seed: 0 },
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
  const started = performance.now();
  const co = cotrainExample();
  console.log(
    `| ${co.name} (federated) | ${co.metrics.train.rows} / ${co.metrics.heldOut.rows} | ${co.metrics.heldOut.accuracy.toFixed(4)} | ${co.metrics.heldOut.macroF1.toFixed(4)} | ${co.adapter.hash} |`,
  );
  for (const c of co.contributors)
    console.log(`  ${c.id}: rows ${c.rows}, contribution ${c.contribution.toFixed(4)}, units ${c.units}`);
  console.error(`${co.name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

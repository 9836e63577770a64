/**
 * Rebuilds the committed adapters (`npm run models`), LoRA on the USE-lite transformer, each a
 * PEFT directory (adapter_config.json, adapter_model.safetensors, manifest.json):
 *  - models/crypto-sentiment/: trained on the hand-written crypto posts (`openlora train`'s
 *    defaults, 20 % held out);
 *  - models/spam-filter/: trained on the SpamAssassin fixture, e-mails cut to 64 tokens;
 *  - models/spam-cotrained/: a co-training example: three contributors holding disjoint
 *    shards of the spam fixture, federated training, Shapley contributions and proposed share
 *    units in the manifest.
 * Training is deterministic: rerunning gives byte-identical files (tests check the hashes).
 * The base is not a file here: it is converted from the npm package at run time and pinned by
 * its hash (base/useLite/useLiteBase.ts).
 */
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { CotrainConfigInput } from "../cotraining/config";
import { cotrainRun } from "../cotraining/cotrainRun";
import type { PeftManifest } from "../peft/manifest";
import { Rng } from "../random";
import { type Example, readDataset } from "../training/dataset";
import type { UseLiteTrainConfigInput } from "../useLiteTraining/config";
import { useLiteTrainRun } from "../useLiteTraining/trainRun";

const ML_DIR = fileURLToPath(new URL("..", import.meta.url));
export const MODELS_DIR = join(ML_DIR, "models");
const DATA_DIR = join(ML_DIR, "data");
const SPAM = join(DATA_DIR, "spam-assassin", "emails.jsonl.gz");

export interface ModelSpec {
  name: string;
  data: string[];
  config: UseLiteTrainConfigInput;
}

function sentimentBatches(): string[] {
  const dir = join(DATA_DIR, "crypto-sentiment");
  return readdirSync(dir)
    .filter((file) => /^batch-\d+\.jsonl$/.test(file))
    .sort()
    .map((file) => join(dir, file));
}

/** E-mails are cut to 64 tokens (subject and first lines): the base's cost grows with tokens. */
const EMAIL_TOKENS = 64;

/** The two adapters trained alone: `openlora train`'s defaults, 20 % stratified held out. */
export function modelSpecs(): ModelSpec[] {
  return [
    { name: "crypto-sentiment", data: sentimentBatches(), config: { seed: 0 } },
    { name: "spam-filter", data: [SPAM], config: { seed: 0, maxTokens: EMAIL_TOKENS } },
  ];
}

export async function trainModel(spec: ModelSpec, root = MODELS_DIR, quiet = false): Promise<PeftManifest> {
  const { manifest } = await useLiteTrainRun({
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
  });
  return manifest;
}

function writeJsonl(path: string, rows: readonly Example[]): string {
  writeFileSync(
    path,
    `${rows.map((row) => JSON.stringify({ text: row.text, label: row.label })).join("\n")}\n`,
  );
  return path;
}

/**
 * The co-training example's options: e-mails cut like the spam filter's, LoRA on the pooler
 * alone (8 coalitions are trained to measure three contributors; the demo does it live).
 */
export const COTRAIN_CONFIG: CotrainConfigInput = {
  seed: 0,
  maxTokens: EMAIL_TOKENS,
  targets: ["pooler.dense"],
};

/** Rows of the co-training example, in the shuffled fixture: three shards, validation, test. */
export const COTRAIN_CUTS = {
  alice: [0, 400],
  bob: [400, 600],
  carol: [600, 700],
  validation: [700, 1000],
  test: [1000, 1600],
} as const;

/**
 * The co-training example: the spam fixture shuffled (seed 7) and cut as COTRAIN_CUTS says.
 * The shards are written to a temporary folder; their names and hashes go into the manifest.
 * Small enough for the demo to co-train it live.
 */
export async function cotrainExample(root = MODELS_DIR): Promise<PeftManifest> {
  const rows = new Rng(7).shuffle([...readDataset(SPAM).rows]);
  const dir = mkdtempSync(join(tmpdir(), "openlora-spam-shards-"));
  const cut = (name: keyof typeof COTRAIN_CUTS) =>
    writeJsonl(join(dir, `${name}.jsonl`), rows.slice(...COTRAIN_CUTS[name]));
  const { manifest } = await cotrainRun({
    contributors: [
      { id: "alice", file: cut("alice") },
      { id: "bob", file: cut("bob") },
      { id: "carol", file: cut("carol") },
    ],
    validation: cut("validation"),
    test: cut("test"),
    out: join(root, "spam-cotrained"),
    name: "spam-cotrained",
    config: COTRAIN_CONFIG,
  });
  return manifest;
}

function row(m: PeftManifest, seconds: number): string {
  const { train, heldOut } = m.metrics;
  return `| ${m.name} | ${m.lora.targetModules.join(", ")} | ${train?.rows} / ${heldOut?.rows} | ${heldOut?.accuracy.toFixed(4)} | ${heldOut?.macroF1.toFixed(4)} | ${seconds.toFixed(1)} | ${m.adapter.hash} |`;
}

/** `npm run models [-- --out DIR]`: writes the adapters and prints their table. */
async function main(): Promise<void> {
  const at = process.argv.indexOf("--out");
  const root = at > 0 ? (process.argv[at + 1] as string) : MODELS_DIR;
  console.log(
    "| adapter | LoRA targets | rows (train / held-out) | held-out accuracy | macro-F1 | seconds | adapter hash |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const spec of modelSpecs()) {
    const started = performance.now();
    const m = await trainModel(spec, root);
    console.log(row(m, (performance.now() - started) / 1000));
  }
  const started = performance.now();
  const co = await cotrainExample(root);
  console.log(row(co, (performance.now() - started) / 1000));
  for (const c of co.contributors)
    console.log(`  ${c.id}: rows ${c.rows}, contribution ${c.contribution.toFixed(4)}, units ${c.units}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();

/**
 * The demo's two adapters, LoRA on the USE-lite transformer: the content filter co-trained by
 * three contributors holding disjoint shards of the SpamAssassin fixture (share units from
 * their measured contribution), and the crypto-sentiment model trained by one. Either trained
 * now, or the committed ones, which `npm run models` reproduces byte for byte.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { type RegistrableAdapter, registrableAdapter } from "../cli/commands/adapterManifest";
import { MANIFEST_FILE } from "../ml/peft/manifest";
import { cotrainExample, MODELS_DIR, modelSpecs, trainModel } from "../ml/scripts/build-models";

export interface DemoModel {
  dir: string;
  manifest: RegistrableAdapter;
}

function readModel(dir: string): DemoModel {
  const file = path.join(dir, MANIFEST_FILE);
  return { dir, manifest: registrableAdapter(JSON.parse(readFileSync(file, "utf8")), file) };
}

const seconds = (started: number) => `${((performance.now() - started) / 1000).toFixed(0)} s`;

export async function trainDemoModels(options: {
  train: boolean;
  dir: string;
  log(line: string): void;
}): Promise<{ contentFilter: DemoModel; sentiment: DemoModel }> {
  if (!options.train) {
    return {
      contentFilter: readModel(path.join(MODELS_DIR, "spam-cotrained")),
      sentiment: readModel(path.join(MODELS_DIR, "crypto-sentiment")),
    };
  }
  let started = performance.now();
  await cotrainExample(options.dir);
  const contentFilter = readModel(path.join(options.dir, "spam-cotrained"));
  options.log(
    `co-trained the content filter (alice, bob, carol) on USE-lite: held-out accuracy ${contentFilter.manifest.heldOutAccuracy?.toFixed(3)}, units ${contentFilter.manifest.contributors.map((c) => c.units).join(" / ")} (${seconds(started)})`,
  );
  const spec = modelSpecs().find((s) => s.name === "crypto-sentiment");
  if (!spec) throw new Error("no crypto-sentiment model spec");
  started = performance.now();
  await trainModel(spec, options.dir, true);
  const sentiment = readModel(path.join(options.dir, "crypto-sentiment"));
  options.log(
    `trained the crypto-sentiment model on USE-lite: held-out accuracy ${sentiment.manifest.heldOutAccuracy?.toFixed(3)} (${seconds(started)})`,
  );
  return { contentFilter, sentiment };
}

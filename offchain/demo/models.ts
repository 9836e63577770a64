/**
 * The demo's two adapters: the content filter co-trained by three contributors holding
 * disjoint shards of the SpamAssassin fixture (share units from their measured contribution),
 * and the crypto-sentiment model trained by one. Either trained now, or the committed ones,
 * which `npm run models` reproduces byte for byte.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { MANIFEST_FILE } from "../ml/adapter/adapterFile";
import { type AdapterManifest, parseManifest } from "../ml/adapter/manifest";
import { cotrainExample, MODELS_DIR, modelSpecs, trainModel } from "../ml/scripts/build-models";

export interface DemoModel {
  dir: string;
  manifest: AdapterManifest;
}

export async function trainDemoModels(options: {
  train: boolean;
  dir: string;
  log(line: string): void;
}): Promise<{ contentFilter: DemoModel; sentiment: DemoModel }> {
  if (!options.train) {
    const committed = (name: string) => {
      const dir = path.join(MODELS_DIR, name);
      const file = path.join(dir, MANIFEST_FILE);
      return { dir, manifest: parseManifest(JSON.parse(readFileSync(file, "utf8")), file) };
    };
    return { contentFilter: committed("spam-cotrained"), sentiment: committed("crypto-sentiment") };
  }
  const started = performance.now();
  const contentFilter = cotrainExample(options.dir);
  options.log(
    `co-trained the content filter (alice, bob, carol): held-out accuracy ${contentFilter.metrics.heldOut.accuracy.toFixed(3)}, units ${contentFilter.contributors.map((c) => c.units).join(" / ")} (${((performance.now() - started) / 1000).toFixed(0)} s)`,
  );
  const spec = modelSpecs().find((s) => s.name === "crypto-sentiment");
  if (!spec) throw new Error("no crypto-sentiment model spec");
  const sentiment = trainModel(spec, options.dir, true);
  options.log(
    `trained the crypto-sentiment model: held-out accuracy ${sentiment.metrics.heldOut.accuracy.toFixed(3)}`,
  );
  return {
    contentFilter: { dir: path.join(options.dir, "spam-cotrained"), manifest: contentFilter },
    sentiment: { dir: path.join(options.dir, "crypto-sentiment"), manifest: sentiment },
  };
}

import { landeBaseModel } from "./base/baseModel";
import { parseTrainConfig } from "./training/config";
import { readDataset } from "./training/dataset";
import { evaluate } from "./training/evaluate";
import { encodeExamples } from "./training/examples";
import { roundToFloat32 } from "./training/loraModel";
import { trainParameters } from "./training/trainer";
import { prepareData } from "./training/trainRun";

const base = landeBaseModel();
const ds = readDataset(process.argv[2]!);
const grid = JSON.parse(process.argv[3]!) as object[];
const split = prepareData([ds], undefined, 0.2, 0);
const tr = encodeExamples(base, split.train, split.labels),
  te = encodeExamples(base, split.test, split.labels);
for (const g of grid) {
  const cfg = parseTrainConfig(g);
  const t0 = Date.now();
  const p = trainParameters(base, tr, split.labels.length, cfg);
  const r = roundToFloat32(p);
  console.log(
    JSON.stringify(g),
    "train",
    evaluate(r, tr).accuracy.toFixed(4),
    "test",
    evaluate(r, te).accuracy.toFixed(4),
    "f1",
    evaluate(r, te).macroF1.toFixed(4),
    Date.now() - t0,
    "ms",
  );
}

import { describe, expect, it } from "vitest";
import { referenceForward } from "../adapter/adapter";
import { landeBaseModel } from "../base/baseModel";
import { Rng } from "../random";
import { encodeExamples } from "./examples";
import {
  initParameters,
  lossAndGradients,
  predictProbabilities,
  roundToFloat32,
  toAdapter,
  viewParameters,
} from "./loraModel";

const ROWS = [
  { text: "Congratulations! You have won a free cruise, call now", label: "spam" },
  { text: "Are we still on for lunch tomorrow?", label: "ham" },
  { text: "Cheap meds online, no prescription needed!!!", label: "spam" },
  { text: "Attached is the report you asked for, see section 3.", label: "ham" },
  { text: "Le rapport est en pièce jointe.", label: "other" },
];
const LABELS = ["ham", "other", "spam"];

function setup(seed: number) {
  const base = landeBaseModel();
  const data = encodeExamples(base, ROWS, LABELS);
  const shape = { inputDim: 620, hiddenDim: 120, rank: 3, classes: 3 };
  const rng = new Rng(seed);
  const params = initParameters(shape, 2, rng);
  // B starts at zero in training; randomize it so every path of the gradient is exercised.
  for (let i = 0; i < params.b.length; i++) params.b[i] = rng.normal() * 0.5;
  for (let i = 0; i < params.headBias.length; i++) params.headBias[i] = rng.normal() * 0.1;
  return { base, data, params };
}

describe("hand-written gradients", () => {
  it("match central finite differences on every parameter block (A, B, head weight, head bias)", () => {
    const { data, params } = setup(42);
    const grads = viewParameters(params, params.scale, new Float64Array(params.flat.length));
    const batch = [0, 1, 2, 3, 4];
    lossAndGradients(params, data, batch, grads);
    const scratch = viewParameters(params, params.scale, new Float64Array(params.flat.length));
    const loss = () => lossAndGradients(params, data, batch, scratch).loss;
    const rng = new Rng(7);
    const blocks = { a: params.a, b: params.b, headWeight: params.headWeight, headBias: params.headBias };
    const offsets = {
      a: 0,
      b: params.a.length,
      headWeight: params.a.length + params.b.length,
      headBias: params.a.length + params.b.length + params.headWeight.length,
    };
    const h = 1e-6;
    let checked = 0;
    for (const [name, block] of Object.entries(blocks) as [keyof typeof blocks, Float64Array][]) {
      // For A, only rows of features present in the batch have a gradient: sample those.
      const candidates =
        name === "a"
          ? Array.from(new Set(data.columns)).flatMap((col) => [0, 1, 2].map((t) => col * 3 + t))
          : null;
      for (let s = 0; s < 12; s++) {
        const i = candidates ? (candidates[rng.int(candidates.length)] as number) : rng.int(block.length);
        const flatIndex = offsets[name] + i;
        const saved = params.flat[flatIndex] as number;
        params.flat[flatIndex] = saved + h;
        const up = loss();
        params.flat[flatIndex] = saved - h;
        const down = loss();
        params.flat[flatIndex] = saved;
        const numeric = (up - down) / (2 * h);
        const analytic = grads.flat[flatIndex] as number;
        expect(Math.abs(numeric - analytic)).toBeLessThan(1e-6 + 1e-4 * Math.abs(numeric));
        if (Math.abs(analytic) > 1e-6) checked++;
      }
    }
    // The check is not vacuous: most sampled gradients are far from zero.
    expect(checked).toBeGreaterThan(30);
  });

  it("computes the same probabilities as the adapter's reference forward pass", () => {
    const { base, data, params } = setup(3);
    const stored = roundToFloat32(params);
    const trainer = predictProbabilities(stored, data);
    const features = base.featurizer?.featurizeAll(ROWS.map((r) => r.text)) ?? new Float32Array();
    const reference = referenceForward(base, toAdapter(params, LABELS), features);
    for (let i = 0; i < reference.length; i++) expect(trainer[i]).toBeCloseTo(reference[i] as number, 6);
  });
});

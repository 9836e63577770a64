// The hand-written gradients of the USE-lite LoRA model against central finite differences,
// on real activations of the base, for every trainable tensor kind: lora_A and lora_B of each
// trainable module (ffn.in, ffn.out, pooler.dense) and the head's weight and bias.
import { beforeAll, describe, expect, it } from "vitest";
import { useLiteBase } from "../base/useLite/useLiteBase";
import { Rng } from "../random";
import { type Activations, computeActivations, frozenWeights, tokenize } from "./activations";
import { initParameters, UseLiteLoraModel, type UseLiteLoraParameters, viewParameters } from "./model";
import { TRAINABLE_MODULES, type TrainableModule } from "./targets";

const TEXTS = [
  "BTC just closed the weekly above the old all-time high.",
  "Got liquidated on my ETH long overnight, I'm done.",
  "The upgrade is scheduled for the second quarter.",
  "gm",
];
const TARGETS = Int32Array.of(0, 1, 2, 1);
const shape = { targets: TRAINABLE_MODULES, rank: 3, classes: 3 };
/** Without ffn.in, ffn.out's gradient takes the low-rank path through the frozen pooler. */
const SHAPES: { targets: readonly TrainableModule[]; rank: number; classes: number }[] = [
  shape,
  { targets: ["encoder.layer.1.ffn.out", "pooler.dense"], rank: 3, classes: 3 },
  { targets: ["encoder.layer.1.ffn.out"], rank: 2, classes: 3 },
];

let data: Activations;
beforeAll(async () => {
  data = await computeActivations(tokenize(useLiteBase(), TEXTS, 16), TRAINABLE_MODULES);
}, 60_000);

/** Random parameters with B ≠ 0, so that every factor has a gradient. */
function randomParameters(chosen: (typeof SHAPES)[number]): UseLiteLoraParameters {
  const rng = new Rng(5);
  const p = initParameters(chosen, 0.7, rng);
  for (const module of p.modules.values())
    for (let i = 0; i < module.b.length; i++) module.b[i] = 0.05 * rng.normal();
  return p;
}

describe("USE-lite LoRA gradients", () => {
  it.each(SHAPES.map((chosen) => [chosen.targets.join(" + "), chosen] as const))(
    "equal central finite differences for every tensor kind (%s)",
    (_, chosen) => {
      const model = new UseLiteLoraModel(data, frozenWeights());
      const p = randomParameters(chosen);
      const grads = viewParameters(p, p.scaling, new Float64Array(p.flat.length));
      const rows = [0, 1, 2, 3];
      model.lossAndGradients(p, TARGETS, rows, grads);
      const loss = () =>
        model.lossAndGradients(
          p,
          TARGETS,
          rows,
          viewParameters(p, p.scaling, new Float64Array(p.flat.length)),
        ).loss;
      const tensors: [string, Float64Array, Float64Array][] = [];
      for (const [name, module] of p.modules) {
        const g = grads.modules.get(name);
        if (!g) throw new Error(`no gradient for ${name}`);
        tensors.push([`${name}.lora_A`, module.a, g.a], [`${name}.lora_B`, module.b, g.b]);
      }
      tensors.push(
        ["classifier.weight", p.headWeight, grads.headWeight],
        ["classifier.bias", p.headBias, grads.headBias],
      );
      const rng = new Rng(11);
      const h = 1e-5;
      for (const [name, values, analytic] of tensors) {
        let checked = 0;
        for (let trial = 0; trial < 6; trial++) {
          const i = rng.int(values.length);
          const saved = values[i] as number;
          values[i] = saved + h;
          const up = loss();
          values[i] = saved - h;
          const downLoss = loss();
          values[i] = saved;
          const numeric = (up - downLoss) / (2 * h);
          const exact = analytic[i] as number;
          expect(Math.abs(numeric - exact), `${name}[${i}]: ${exact} vs ${numeric}`).toBeLessThan(
            1e-6 + 1e-4 * Math.abs(numeric),
          );
          if (Math.abs(exact) > 1e-8) checked++;
        }
        // The check means something only where gradients are not all zero.
        expect(checked, name).toBeGreaterThan(0);
      }
    },
  );

  it("with B = 0 gives the base's own embedding: the adapter starts as the identity", async () => {
    const model = new UseLiteLoraModel(data, frozenWeights());
    const p = initParameters(shape, 2, new Rng(1));
    const probabilities = model.predict(p);
    const headOnly = new UseLiteLoraModel(data, frozenWeights()).predict(
      viewParameters({ ...shape, targets: [] }, 2, Float64Array.from([...p.headWeight, ...p.headBias])),
    );
    for (let i = 0; i < probabilities.length; i++)
      expect(probabilities[i]).toBeCloseTo(headOnly[i] as number, 12);
  });
});

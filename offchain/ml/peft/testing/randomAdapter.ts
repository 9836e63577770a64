/**
 * Random adapters at the scale training produces: lora_A as PEFT initialises it (Kaiming
 * uniform, bound 1/√in) and lora_B ~ N(0, bScale²) as after some training (B starts at 0).
 */
import { USE_LITE, USE_LITE_MODULES } from "../../base/useLite/modules";
import { Rng } from "../../random";
import type { LoraFactors, PeftAdapter } from "../adapterModel";
import type { LoraConfig } from "../config";
import type { Provenance } from "../provenance";

export function randomAdapter(
  config: LoraConfig,
  seed: number,
  bScale = 0.02,
  labels?: string[],
): PeftAdapter {
  const rng = new Rng(seed);
  const factors = new Map<(typeof config.target_modules)[number], LoraFactors>();
  for (const module of config.target_modules) {
    const { inputs, outputs } = USE_LITE_MODULES[module];
    const bound = 1 / Math.sqrt(inputs);
    const a = Float32Array.from({ length: config.r * inputs }, () => (2 * rng.next() - 1) * bound);
    const b = Float32Array.from({ length: outputs * config.r }, () => rng.normal() * bScale);
    factors.set(module, { a, b });
  }
  if (!labels) return { config, factors };
  const d = USE_LITE.outputDim;
  const weight = Float32Array.from({ length: labels.length * d }, () => rng.normal() * 0.5);
  const bias = Float32Array.from(labels, () => rng.normal() * 0.1);
  return { config, factors, head: { labels, weight, bias } };
}

export const PROVENANCE: Provenance = {
  name: "crypto-sentiment-peft",
  seed: 7,
  datasets: [
    {
      name: "crypto-sentiment.csv",
      hash: "0x1111111111111111111111111111111111111111111111111111111111111111",
      rows: 698,
      role: "train",
    },
  ],
  contributors: [{ id: "alice", rows: 698, contribution: 0.25, units: 1000 }],
  metrics: {
    heldOut: {
      rows: 140,
      accuracy: 0.9,
      loss: 0.3,
      macroF1: 0.89,
      confusion: [
        [60, 7],
        [7, 66],
      ],
    },
  },
};

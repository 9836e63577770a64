/** Trained parameters → a PEFT adapter (float32, PEFT's orientation and config). */
import { USE_LITE_MODULES } from "../base/useLite/modules";
import { TrainingConfigError } from "../errors";
import type { LoraFactors, PeftAdapter } from "../peft/adapterModel";
import { createLoraConfig } from "../peft/config";
import type { UseLiteLoraParameters } from "./model";

export function toPeftAdapter(
  p: UseLiteLoraParameters,
  labels: readonly string[],
  options: { alpha: number; useRslora: boolean },
): PeftAdapter {
  if (labels.length !== p.classes) throw new TrainingConfigError("label count does not match the head");
  const factors = new Map<(typeof p.targets)[number], LoraFactors>();
  for (const [module, m] of p.modules) {
    const { inputs, outputs } = USE_LITE_MODULES[module];
    if (m.a.length !== p.rank * inputs || m.b.length !== outputs * p.rank)
      throw new Error(`bad shape for ${module}`);
    factors.set(module, { a: Float32Array.from(m.a), b: Float32Array.from(m.b) });
  }
  return {
    config: createLoraConfig({
      r: p.rank,
      alpha: options.alpha,
      useRslora: options.useRslora,
      targetModules: p.targets,
      head: true,
    }),
    factors,
    head: {
      labels: [...labels],
      weight: Float32Array.from(p.headWeight),
      bias: Float32Array.from(p.headBias),
    },
  };
}

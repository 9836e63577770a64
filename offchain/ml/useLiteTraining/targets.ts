/**
 * Which of USE-lite's linear layers the trainer fine-tunes. Every layer can be served (the
 * runner adds any module's LoRA path); training needs gradients through everything above the
 * lowest trained layer, and this trainer computes them by hand from activations cached once:
 *
 *   pooler.dense             input: the mean-pooled output of layer 1, one vector per row
 *   encoder.layer.1.ffn.out  input: ReLU(ffn.in) per token; LoRA is linear and pooling is a
 *                            mean, so only its mean over the row's tokens is needed
 *   encoder.layer.1.ffn.in   input: LayerNorm(y) per token; its ReLU is per token, so the
 *                            token activations are cached (≈ 8 KB a token)
 *
 * Lower layers (attention, layer 0) would need a backward pass through attention and the
 * frozen feed-forward matmuls for every token of every step: measured too slow for the
 * training-time aim on two cores (docs/models.md), so they are refused here, by name.
 */
import type { UseLiteModuleName } from "../base/useLite/modules";
import { TrainingConfigError } from "../errors";

export const TRAINABLE_MODULES = [
  "encoder.layer.1.ffn.in",
  "encoder.layer.1.ffn.out",
  "pooler.dense",
] as const satisfies readonly UseLiteModuleName[];

export type TrainableModule = (typeof TRAINABLE_MODULES)[number];

/** What `openlora train` targets unless told otherwise. */
export const DEFAULT_TRAIN_TARGETS: readonly TrainableModule[] = ["encoder.layer.1.ffn.out", "pooler.dense"];

/** Checks and orders (as the forward pass runs them) the modules to train. */
export function trainTargets(modules: readonly string[] = DEFAULT_TRAIN_TARGETS): TrainableModule[] {
  if (modules.length === 0) throw new TrainingConfigError("no LoRA target module given");
  for (const module of modules) {
    if (!(TRAINABLE_MODULES as readonly string[]).includes(module)) {
      throw new TrainingConfigError(
        `cannot train LoRA on ${module}: the trainer fine-tunes ${TRAINABLE_MODULES.join(", ")}`,
        { module, trainable: TRAINABLE_MODULES },
      );
    }
  }
  return TRAINABLE_MODULES.filter((module) => modules.includes(module));
}

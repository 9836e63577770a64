/** Options of training a USE-lite adapter, validated at the edge (CLI flags, scripts) with zod. */
import { z } from "zod";
import { USE_LITE } from "../base/useLite/modules";
import { TrainingConfigError } from "../errors";
import { trainConfigSchema } from "../training/config";
import { DEFAULT_TRAIN_TARGETS, trainTargets } from "./targets";

/** Shared by `train` and `cotrain`: the LoRA itself and how rows are read. */
export const loraOptionsSchema = z.object({
  /** Modules to put LoRA on (targets.ts says which can be trained, and refuses others by name). */
  targets: z
    .array(z.string())
    .default([...DEFAULT_TRAIN_TARGETS])
    .transform((modules) => trainTargets(modules)),
  /** rsLoRA: scale by alpha/√r instead of alpha/r. */
  useRslora: z.boolean().default(false),
  /** Tokens of each text the trainer reads (the base reads at most 128). */
  maxTokens: z.number().int().min(1).max(USE_LITE.maxTokens).default(USE_LITE.maxTokens),
});

export const useLiteTrainConfigSchema = trainConfigSchema
  .extend({ learningRate: z.number().positive().max(1).default(0.003) })
  .extend(loraOptionsSchema.shape);

export type UseLiteTrainConfig = z.infer<typeof useLiteTrainConfigSchema>;
export type UseLiteTrainConfigInput = z.input<typeof useLiteTrainConfigSchema>;

export function parseUseLiteTrainConfig(input: UseLiteTrainConfigInput): UseLiteTrainConfig {
  const result = useLiteTrainConfigSchema.safeParse(input);
  if (!result.success) {
    throw new TrainingConfigError(`invalid training options: ${z.prettifyError(result.error)}`, {
      issues: result.error.issues,
    });
  }
  return result.data;
}

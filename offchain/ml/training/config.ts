/** Training hyper-parameters, validated at the edge (CLI flags, scripts) with zod. */
import { z } from "zod";
import { TrainingConfigError } from "../errors";

export const trainConfigSchema = z.object({
  /** LoRA rank r. */
  rank: z.number().int().min(1).max(128).default(8),
  /** LoRA alpha: scale = alpha / rank. */
  alpha: z.number().positive().default(16),
  epochs: z.number().int().min(1).max(10_000).default(40),
  learningRate: z.number().positive().max(1).default(0.01),
  batchSize: z.number().int().min(1).max(65_536).default(32),
  /** Decoupled weight decay (AdamW). */
  weightDecay: z.number().min(0).max(1).default(0),
  /** Fraction of each label's rows held out for testing when no test file is given. */
  holdout: z.number().min(0).lt(1).default(0.2),
  seed: z.number().int().min(0).max(0xffff_ffff).default(0),
});

export type TrainConfig = z.infer<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

export function parseTrainConfig(input: TrainConfigInput): TrainConfig {
  const result = trainConfigSchema.safeParse(input);
  if (!result.success) {
    throw new TrainingConfigError(`invalid training options: ${z.prettifyError(result.error)}`, {
      issues: result.error.issues,
    });
  }
  return result.data;
}

/** Co-training options, validated at the edge with zod. */
import { z } from "zod";
import { TrainingConfigError } from "../errors";
import { trainConfigSchema } from "../training/config";
import { loraOptionsSchema } from "../useLiteTraining/config";

export const cotrainConfigSchema = trainConfigSchema
  .omit({ epochs: true, holdout: true })
  .extend(loraOptionsSchema.shape)
  .extend({
    learningRate: z.number().positive().max(1).default(0.003),
    /** Federated rounds (each: local training, then FedAvg). */
    rounds: z.number().int().min(1).max(1000).default(10),
    /** Local epochs per contributor per round. */
    localEpochs: z.number().int().min(1).max(100).default(2),
    /** "shapley": exact up to `exactLimit` contributors, else Monte-Carlo; "loo": leave-one-out. */
    method: z.enum(["shapley", "loo"]).default("shapley"),
    exactLimit: z.number().int().min(1).max(12).default(8),
    /** Permutations for Monte-Carlo Shapley. */
    permutations: z.number().int().min(1).max(10_000).default(64),
    /** Share units to split among contributors. */
    totalUnits: z.number().int().min(1).max(1e15).default(10_000),
  });

export type CotrainConfig = z.infer<typeof cotrainConfigSchema>;
export type CotrainConfigInput = z.input<typeof cotrainConfigSchema>;

export function parseCotrainConfig(input: CotrainConfigInput): CotrainConfig {
  const result = cotrainConfigSchema.safeParse(input);
  if (!result.success) {
    throw new TrainingConfigError(`invalid co-training options: ${z.prettifyError(result.error)}`, {
      issues: result.error.issues,
    });
  }
  return result.data;
}

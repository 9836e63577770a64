/**
 * What we record about an adapter beyond PEFT's files: its name, the datasets it was trained
 * on (by hash), contributors, training settings, metrics and seed. The same record sits in the
 * safetensors `__metadata__` (so the registered hash covers it) and in `manifest.json`.
 */
import { z } from "zod";
import {
  contributorSchema,
  datasetRecordSchema,
  evaluationSchema,
  trainingConfigSchema,
} from "../adapter/manifest";

export const provenanceSchema = z.object({
  name: z.string().min(1),
  seed: z.number().int().nonnegative(),
  datasets: z.array(datasetRecordSchema),
  contributors: z.array(contributorSchema),
  training: trainingConfigSchema.optional(),
  metrics: z.object({
    train: evaluationSchema.optional(),
    heldOut: evaluationSchema.optional(),
    validation: evaluationSchema.optional(),
  }),
});

export type Provenance = z.infer<typeof provenanceSchema>;

/**
 * The adapter manifest (`manifest.json` beside `adapter.safetensors`): provenance and
 * metrics of one adapter, validated with zod wherever it is read.
 */
import { z } from "zod";
import { ManifestError } from "../errors";

export const MANIFEST_FORMAT = "openlora-adapter-manifest/1";
export const ADAPTER_FORMAT = "openlora-adapter/1";

const hash32 = z.string().regex(/^0x[0-9a-f]{64}$/, "expected a 0x-prefixed 32-byte lowercase hex hash");
const count = z.number().int().nonnegative();

export const datasetRecordSchema = z.object({
  /** File name or shard name. */
  name: z.string().min(1),
  /** keccak256 of the data file's bytes. */
  hash: hash32,
  rows: count,
  role: z.enum(["train", "test", "validation", "shard"]),
  /** Contributor id for shards of a co-training run. */
  contributor: z.string().optional(),
});

export const contributorSchema = z.object({
  id: z.string().min(1),
  address: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/)
    .optional(),
  rows: count,
  /** Measured contribution (e.g. Shapley value of validation accuracy); may be negative. */
  contribution: z.number(),
  /** Proposed share units (integers summing to the run's total units). */
  units: count,
});

export const evaluationSchema = z.object({
  rows: count,
  accuracy: z.number().min(0).max(1),
  loss: z.number().nonnegative(),
  macroF1: z.number().min(0).max(1),
  /** confusion[actual][predicted], in label order. */
  confusion: z.array(z.array(count)),
});

export const trainingConfigSchema = z.object({
  mode: z.enum(["single", "federated"]),
  rank: z.number().int().positive(),
  alpha: z.number().positive(),
  epochs: z.number().int().positive(),
  learningRate: z.number().positive(),
  batchSize: z.number().int().positive(),
  weightDecay: z.number().nonnegative(),
  holdout: z.number().min(0).lt(1),
  seed: z.number().int().nonnegative(),
  rounds: z.number().int().positive().optional(),
  localEpochs: z.number().int().positive().optional(),
  contributionMethod: z.string().optional(),
  permutations: z.number().int().positive().optional(),
  totalUnits: z.number().int().positive().optional(),
  /** Tokens of each text the trainer read (USE-lite adapters; the base reads at most 128). */
  maxTokens: z.number().int().positive().optional(),
});

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  name: z.string().min(1),
  baseModel: z.object({ id: z.string().min(1), hash: hash32 }),
  adapter: z.object({
    format: z.literal(ADAPTER_FORMAT),
    file: z.string().regex(/^[\w.-]+$/, "a plain file name next to the manifest"),
    hash: hash32,
    bytes: count,
  }),
  lora: z.object({
    target: z.literal("hidden"),
    rank: z.number().int().positive(),
    scale: z.number(),
    inputDim: z.number().int().positive(),
    outputDim: z.number().int().positive(),
  }),
  /** The adapter's labels in output order (its task head's, or the base's when it has none). */
  labels: z.array(z.string().min(1)).min(2),
  head: z.boolean(),
  seed: z.number().int().nonnegative(),
  datasets: z.array(datasetRecordSchema),
  contributors: z.array(contributorSchema),
  training: trainingConfigSchema,
  metrics: z.object({
    train: evaluationSchema,
    heldOut: evaluationSchema,
    /** Co-training: the coordinator's validation set, on which contributions are measured. */
    validation: evaluationSchema.optional(),
  }),
});

export type AdapterManifest = z.infer<typeof manifestSchema>;
export type DatasetRecord = z.infer<typeof datasetRecordSchema>;
export type ContributorRecord = z.infer<typeof contributorSchema>;
export type Evaluation = z.infer<typeof evaluationSchema>;
export type TrainingConfigRecord = z.infer<typeof trainingConfigSchema>;

export function parseManifest(value: unknown, source = "manifest"): AdapterManifest {
  const result = manifestSchema.safeParse(value);
  if (!result.success) {
    throw new ManifestError(`invalid adapter manifest: ${source}`, { issues: z.prettifyError(result.error) });
  }
  return result.data;
}

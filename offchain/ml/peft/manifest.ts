/**
 * `manifest.json` beside PEFT's two files: what a person or a registry UI reads first. It
 * repeats the provenance recorded in the safetensors metadata and the LoRA summary, and
 * loading checks that it describes the file (the file is what the registered hash covers).
 */
import { z } from "zod";
import { ManifestError } from "../errors";
import { ADAPTER_MODEL_FILE, PEFT_ADAPTER_FORMAT } from "./adapterModel";
import { ADAPTER_CONFIG_FILE } from "./config";
import { provenanceSchema } from "./provenance";

export const PEFT_MANIFEST_FORMAT = "openlora-peft-manifest/1";
export const MANIFEST_FILE = "manifest.json";

const hash32 = z.string().regex(/^0x[0-9a-f]{64}$/, "expected a 0x-prefixed 32-byte lowercase hex hash");

export const peftManifestSchema = provenanceSchema.extend({
  format: z.literal(PEFT_MANIFEST_FORMAT),
  baseModel: z.object({ id: z.string().min(1), hash: hash32 }),
  adapter: z.object({
    format: z.literal(PEFT_ADAPTER_FORMAT),
    file: z.literal(ADAPTER_MODEL_FILE),
    /** keccak256 of the safetensors bytes: the registered adapter hash. */
    hash: hash32,
    bytes: z.number().int().positive(),
  }),
  config: z.object({ file: z.literal(ADAPTER_CONFIG_FILE) }),
  lora: z.object({
    r: z.number().int().positive(),
    alpha: z.number().positive(),
    useRslora: z.boolean(),
    scaling: z.number().positive(),
    targetModules: z.array(z.string()).min(1),
  }),
  /** Whether the adapter has the classification head; without one it serves embeddings. */
  head: z.boolean(),
  /** The head's labels in output order; empty for an embedding adapter. */
  labels: z.array(z.string().min(1)),
});

export type PeftManifest = z.infer<typeof peftManifestSchema>;

export function parsePeftManifest(value: unknown, source = MANIFEST_FILE): PeftManifest {
  const result = peftManifestSchema.safeParse(value);
  if (!result.success) {
    throw new ManifestError(`invalid adapter manifest: ${source}`, { issues: z.prettifyError(result.error) });
  }
  return result.data;
}

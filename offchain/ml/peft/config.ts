/**
 * `adapter_config.json` as PEFT writes it for LoRA, on USE-lite's module names. Reading
 * serves only what it understands: PEFT features that change the math (DoRA, lora_bias,
 * bias training, fan_in_fan_out, per-layer patterns, megatron, initialisations that rewrite
 * the base weights, ...) are refused by key, and a key we do not know is accepted only with an
 * inert value (null, false, {} or []), as a newer PEFT writes its new options' defaults.
 */
import { z } from "zod";
import { USE_LITE, USE_LITE_MODULES, type UseLiteModuleName } from "../base/useLite/modules";
import { PeftConfigError, UnknownModuleError, UnsupportedPeftFeatureError } from "./errors";
import { canonicalJson, sortedJsonFile } from "./json";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
/** The optional classification head, saved like PEFT's `modules_to_save`. */
export const HEAD_MODULE = "classifier";
export const TASK_TYPES = { embedding: "FEATURE_EXTRACTION", classifier: "SEQ_CLS" } as const;

/** Attention qkv and output of both layers plus the feed-forward layers. */
export const DEFAULT_TARGET_MODULES: readonly UseLiteModuleName[] = [0, 1].flatMap((layer) =>
  (["attention.qkv", "attention.output", "ffn.in", "ffn.out"] as const).map(
    (part) => `encoder.layer.${layer}.${part}` as UseLiteModuleName,
  ),
);
export const DEFAULT_RANK = 8;
export const DEFAULT_ALPHA = 16;

/** Initialisations that leave the base weights alone; pissa, olora, corda and loftq rewrite them. */
const SERVED_INITS: readonly unknown[] = [true, false, "gaussian", "eva", "orthogonal"];

function isInert(value: unknown): boolean {
  if (value === null || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value as object).length === 0;
}

/** Keys of PEFT's LoraConfig that change what an adapter computes, with the values we serve. */
const UNSERVED: Record<string, (value: unknown) => boolean> = {
  use_dora: isInert,
  lora_bias: isInert,
  bias: (value) => value === "none",
  fan_in_fan_out: isInert,
  layers_to_transform: isInert,
  layers_pattern: (value) => isInert(value) || value === "",
  rank_pattern: isInert,
  alpha_pattern: isInert,
  megatron_config: isInert,
  exclude_modules: isInert,
  loftq_config: isInert,
  layer_replication: isInert,
  trainable_token_indices: isInert,
  use_qalora: isInert,
  target_parameters: isInert,
  init_lora_weights: (value) => SERVED_INITS.includes(value),
};

const loraConfigSchema = z.object({
  peft_type: z.literal("LORA"),
  r: z.number().int().positive(),
  lora_alpha: z.number().positive(),
  target_modules: z.array(z.string()).min(1),
  use_rslora: z.boolean().default(false),
  modules_to_save: z.array(z.string()).nullable().default(null),
  base_model_name_or_path: z.string().nullable().default(null),
  task_type: z.string().nullable().default(null),
  lora_dropout: z.number().min(0).lt(1).default(0),
  init_lora_weights: z.union([z.boolean(), z.string()]).default(true),
  inference_mode: z.boolean().default(true),
  revision: z.string().nullable().default(null),
});

/** Keys PEFT writes that do not change the served function (training-time or bookkeeping). */
const INFORMATIONAL = new Set([
  ...Object.keys(loraConfigSchema.shape),
  "auto_mapping",
  "megatron_core",
  "qalora_group_size",
  "eva_config",
  "corda_config",
  "peft_version",
  "runtime_config",
]);

export type LoraConfig = Omit<z.infer<typeof loraConfigSchema>, "target_modules"> & {
  target_modules: UseLiteModuleName[];
};

/** The keys PEFT's LoraConfig writes, at its defaults; ours overwrite them in `loraConfigFile`. */
const PEFT_DEFAULTS = {
  alpha_pattern: {},
  auto_mapping: null,
  bias: "none",
  corda_config: null,
  eva_config: null,
  exclude_modules: null,
  fan_in_fan_out: false,
  layer_replication: null,
  layers_pattern: null,
  layers_to_transform: null,
  loftq_config: {},
  lora_bias: false,
  megatron_config: null,
  megatron_core: "megatron.core",
  qalora_group_size: 16,
  rank_pattern: {},
  trainable_token_indices: null,
  use_dora: false,
  use_qalora: false,
};

function refuseUnserved(raw: Record<string, unknown>, source: string): void {
  for (const [key, value] of Object.entries(raw)) {
    const served = UNSERVED[key];
    if (served ? served(value) : INFORMATIONAL.has(key) || isInert(value)) continue;
    const why = served ? "is a PEFT feature not served" : "is an unknown key with a non-default value";
    throw new UnsupportedPeftFeatureError(`${source}: ${key} = ${JSON.stringify(value)} ${why}`, {
      key,
      value,
    });
  }
}

function checkModules(config: z.infer<typeof loraConfigSchema>, source: string): UseLiteModuleName[] {
  const seen = new Set<string>();
  for (const module of config.target_modules) {
    if (!(module in USE_LITE_MODULES)) {
      throw new UnknownModuleError(
        `${source}: target module ${module} is not a USE-lite linear layer (full names from USE_LITE_MODULES)`,
        {
          key: "target_modules",
          module,
        },
      );
    }
    if (seen.has(module))
      throw new PeftConfigError(`${source}: target module ${module} listed twice`, { module });
    seen.add(module);
  }
  for (const module of config.modules_to_save ?? []) {
    if (module !== HEAD_MODULE) {
      throw new UnknownModuleError(`${source}: modules_to_save entry ${module} (only ${HEAD_MODULE})`, {
        key: "modules_to_save",
        module,
      });
    }
  }
  // Map order: one config, one canonical form.
  return (Object.keys(USE_LITE_MODULES) as UseLiteModuleName[]).filter((name) => seen.has(name));
}

function checkTaskType(config: z.infer<typeof loraConfigSchema>, source: string): void {
  const head = hasHead(config);
  const expected = head ? TASK_TYPES.classifier : TASK_TYPES.embedding;
  if (config.task_type === expected || (!head && config.task_type === null)) return;
  throw new UnsupportedPeftFeatureError(
    `${source}: task_type ${config.task_type} (expected ${expected} ${head ? "with" : "without"} a ${HEAD_MODULE})`,
    { key: "task_type", value: config.task_type, expected },
  );
}

export function hasHead(config: Pick<LoraConfig, "modules_to_save">): boolean {
  return (config.modules_to_save ?? []).includes(HEAD_MODULE);
}

/** Validates a parsed `adapter_config.json`; refuses what we would not serve exactly. */
export function parseLoraConfig(raw: unknown, source = ADAPTER_CONFIG_FILE): LoraConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new PeftConfigError(`${source} is not a JSON object`, {});
  }
  const record = raw as Record<string, unknown>;
  if (record.peft_type !== "LORA") {
    throw new UnsupportedPeftFeatureError(
      `${source}: peft_type ${JSON.stringify(record.peft_type)} (only LORA)`,
      {
        key: "peft_type",
        value: record.peft_type,
      },
    );
  }
  if (typeof record.target_modules === "string") {
    throw new UnsupportedPeftFeatureError(`${source}: target_modules as a pattern (list the module names)`, {
      key: "target_modules",
      value: record.target_modules,
    });
  }
  refuseUnserved(record, source);
  const result = loraConfigSchema.safeParse(record);
  if (!result.success) {
    throw new PeftConfigError(`invalid ${source}`, { issues: z.prettifyError(result.error) });
  }
  const targets = checkModules(result.data, source);
  checkTaskType(result.data, source);
  return { ...result.data, target_modules: targets };
}

export interface LoraOptions {
  r?: number;
  alpha?: number;
  targetModules?: readonly UseLiteModuleName[];
  useRslora?: boolean;
  /** Add the classification head (`modules_to_save: ["classifier"]`, task SEQ_CLS). */
  head?: boolean;
  dropout?: number;
}

/** A config with our defaults: r 8, alpha 16, attention and feed-forward of both layers. */
export function createLoraConfig(options: LoraOptions = {}): LoraConfig {
  return parseLoraConfig({
    peft_type: "LORA",
    r: options.r ?? DEFAULT_RANK,
    lora_alpha: options.alpha ?? DEFAULT_ALPHA,
    target_modules: [...(options.targetModules ?? DEFAULT_TARGET_MODULES)],
    use_rslora: options.useRslora ?? false,
    modules_to_save: options.head ? [HEAD_MODULE] : null,
    base_model_name_or_path: USE_LITE.id,
    task_type: options.head ? TASK_TYPES.classifier : TASK_TYPES.embedding,
    lora_dropout: options.dropout ?? 0,
  });
}

/** PEFT's scaling: alpha / r, or alpha / √r with rsLoRA. */
export function loraScaling(config: Pick<LoraConfig, "r" | "lora_alpha" | "use_rslora">): number {
  return config.lora_alpha / (config.use_rslora ? Math.sqrt(config.r) : config.r);
}

/** Every key PEFT's LoraConfig writes, ours over its defaults. */
export function loraConfigRecord(config: LoraConfig): Record<string, unknown> {
  return { ...PEFT_DEFAULTS, ...config };
}

/** The `adapter_config.json` text: sorted keys, as PEFT's `json.dumps(sort_keys=True)`. */
export function loraConfigFile(config: LoraConfig): string {
  return sortedJsonFile(loraConfigRecord(config));
}

/** Compact canonical form, embedded in the safetensors metadata and used to compare configs. */
export function loraConfigCanonical(config: LoraConfig): string {
  return canonicalJson(loraConfigRecord(config));
}

import { describe, expect, it } from "vitest";
import { USE_LITE_MODULE_NAMES } from "../base/useLite/modules";
import {
  createLoraConfig,
  DEFAULT_TARGET_MODULES,
  loraConfigFile,
  loraConfigRecord,
  loraScaling,
  parseLoraConfig,
} from "./config";
import { PeftConfigError, UnknownModuleError, UnsupportedPeftFeatureError } from "./errors";

/** adapter_config.json as PEFT 0.16 writes it (every key), on our module names. */
const PEFT_WRITTEN = {
  alpha_pattern: {},
  auto_mapping: null,
  base_model_name_or_path: "use-lite-en",
  bias: "none",
  corda_config: null,
  eva_config: null,
  exclude_modules: null,
  fan_in_fan_out: false,
  inference_mode: true,
  init_lora_weights: true,
  layer_replication: null,
  layers_pattern: null,
  layers_to_transform: null,
  loftq_config: {},
  lora_alpha: 32,
  lora_bias: false,
  lora_dropout: 0.1,
  megatron_config: null,
  megatron_core: "megatron.core",
  modules_to_save: ["classifier"],
  peft_type: "LORA",
  qalora_group_size: 16,
  r: 4,
  rank_pattern: {},
  revision: null,
  target_modules: ["encoder.layer.1.ffn.out", "pooler.dense"],
  task_type: "SEQ_CLS",
  trainable_token_indices: null,
  use_dora: false,
  use_qalora: false,
  use_rslora: true,
};

const MINIMAL = { peft_type: "LORA", r: 8, lora_alpha: 16, target_modules: ["pooler.dense"] };

function refusal(patch: Record<string, unknown>): unknown {
  try {
    parseLoraConfig({ ...PEFT_WRITTEN, ...patch });
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("LoraConfig", () => {
  it("defaults to r 8, alpha 16 on attention qkv/output and feed-forward of both layers", () => {
    const config = createLoraConfig();
    expect(config.r).toBe(8);
    expect(config.lora_alpha).toBe(16);
    expect(config.target_modules).toEqual([
      "encoder.layer.0.attention.qkv",
      "encoder.layer.0.attention.output",
      "encoder.layer.0.ffn.in",
      "encoder.layer.0.ffn.out",
      "encoder.layer.1.attention.qkv",
      "encoder.layer.1.attention.output",
      "encoder.layer.1.ffn.in",
      "encoder.layer.1.ffn.out",
    ]);
    expect(DEFAULT_TARGET_MODULES).toEqual(config.target_modules);
    expect(config.modules_to_save).toBeNull();
    expect(config.task_type).toBe("FEATURE_EXTRACTION");
    expect(config.base_model_name_or_path).toBe("use-lite-en");
    expect(loraScaling(config)).toBe(2);
    const head = createLoraConfig({ head: true, useRslora: true, r: 16, alpha: 8 });
    expect(head.modules_to_save).toEqual(["classifier"]);
    expect(head.task_type).toBe("SEQ_CLS");
    expect(loraScaling(head)).toBe(2);
  });

  it("writes every key PEFT writes, sorted, and reads its own file back to the same config", () => {
    const config = createLoraConfig({
      head: true,
      targetModules: ["pooler.dense", "encoder.layer.0.residual"],
    });
    const text = loraConfigFile(config);
    const parsed = JSON.parse(text);
    expect(Object.keys(parsed)).toEqual(Object.keys(PEFT_WRITTEN));
    expect(Object.keys(parsed)).toEqual([...Object.keys(parsed)].sort());
    expect(parsed).toMatchObject({ bias: "none", fan_in_fan_out: false, use_dora: false, lora_bias: false });
    // Module-map order whatever order they were given in.
    expect(parsed.target_modules).toEqual(["encoder.layer.0.residual", "pooler.dense"]);
    expect(parseLoraConfig(parsed)).toEqual(config);
    expect(loraConfigRecord(parseLoraConfig(parsed))).toEqual(parsed);
  });

  it("reads a config as PEFT writes it, and an older one without the newer keys", () => {
    const config = parseLoraConfig(PEFT_WRITTEN);
    expect(config.target_modules).toEqual(["encoder.layer.1.ffn.out", "pooler.dense"]);
    expect(loraScaling(config)).toBe(16);
    const old = parseLoraConfig(MINIMAL);
    expect(old).toMatchObject({ use_rslora: false, modules_to_save: null, task_type: null, lora_dropout: 0 });
    expect(loraScaling(old)).toBe(2);
  });

  it("accepts unknown keys at inert values (a newer PEFT's defaults) and refuses them otherwise", () => {
    expect(() =>
      parseLoraConfig({ ...MINIMAL, alora_invocation_tokens: null, ensure_weight_tying: false }),
    ).not.toThrow();
    expect(() => parseLoraConfig({ ...MINIMAL, arrow_config: { top_k: 3 } })).toThrow(
      UnsupportedPeftFeatureError,
    );
    expect(() => parseLoraConfig({ ...MINIMAL, arrow_config: { top_k: 3 } })).toThrow(/arrow_config/);
  });

  it("refuses each PEFT feature we do not serve, naming the key", () => {
    const features: [string, unknown][] = [
      ["use_dora", true],
      ["lora_bias", true],
      ["bias", "all"],
      ["bias", "lora_only"],
      ["fan_in_fan_out", true],
      ["layers_to_transform", [0]],
      ["layers_pattern", "layer"],
      ["rank_pattern", { "pooler.dense": 4 }],
      ["alpha_pattern", { "pooler.dense": 4 }],
      ["megatron_config", { num_layers: 2 }],
      ["exclude_modules", ["pooler.dense"]],
      ["loftq_config", { loftq_bits: 4 }],
      ["layer_replication", [[0, 1]]],
      ["trainable_token_indices", [1, 2]],
      ["use_qalora", true],
      ["target_parameters", ["pooler.dense.weight"]],
      ["init_lora_weights", "pissa"],
      ["init_lora_weights", "pissa_niter_16"],
      ["init_lora_weights", "olora"],
      ["init_lora_weights", "corda"],
      ["init_lora_weights", "loftq"],
      ["peft_type", "IA3"],
      ["peft_type", undefined],
      ["target_modules", "all-linear"],
      ["task_type", "CAUSAL_LM"],
    ];
    for (const [key, value] of features) {
      const error = refusal({ [key]: value });
      expect(error, `${key} = ${JSON.stringify(value)}`).toBeInstanceOf(UnsupportedPeftFeatureError);
      expect((error as Error).message).toContain(key);
      expect((error as UnsupportedPeftFeatureError).details.key).toBe(key);
    }
    for (const init of [true, false, "gaussian", "eva", "orthogonal"]) {
      expect(refusal({ init_lora_weights: init }), String(init)).toBeUndefined();
    }
  });

  it("refuses modules that USE-lite does not have", () => {
    for (const patch of [
      { target_modules: ["q_proj"] },
      { target_modules: ["pooler.dense", "encoder.layer.2.ffn.in"] },
      { target_modules: ["embeddings.word"] },
      { modules_to_save: ["score"] },
    ]) {
      expect(refusal(patch), JSON.stringify(patch)).toBeInstanceOf(UnknownModuleError);
    }
    expect(String(refusal({ target_modules: ["q_proj"] }))).toContain("q_proj");
    for (const name of USE_LITE_MODULE_NAMES) expect(refusal({ target_modules: [name] })).toBeUndefined();
  });

  it("refuses invalid configs with PeftConfigError", () => {
    const invalid = [
      { r: 0 },
      { r: 2.5 },
      { r: undefined },
      { lora_alpha: undefined },
      { lora_alpha: "16" },
      { target_modules: [] },
      { target_modules: ["pooler.dense", "pooler.dense"] },
      { use_rslora: "yes" },
      { lora_dropout: 1 },
    ];
    for (const patch of invalid) {
      expect(refusal(patch), JSON.stringify(patch)).toBeInstanceOf(PeftConfigError);
    }
    expect(() => parseLoraConfig([1])).toThrow(PeftConfigError);
    expect(() => parseLoraConfig(null)).toThrow(PeftConfigError);
    expect(() => parseLoraConfig({ ...MINIMAL, task_type: "SEQ_CLS" })).toThrow(UnsupportedPeftFeatureError);
    expect(() => parseLoraConfig({ ...PEFT_WRITTEN, task_type: "FEATURE_EXTRACTION" })).toThrow(/task_type/);
  });
});

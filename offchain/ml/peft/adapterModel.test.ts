import { describe, expect, it } from "vitest";
import { USE_LITE_MODULES } from "../base/useLite/modules";
import { USE_LITE_HASH } from "../base/useLite/useLiteBase";
import { AdapterHashMismatchError, BaseModelMismatchError, SafetensorsFormatError } from "../errors";
import { contentHash } from "../hash";
import {
  adapterTensors,
  decodePeftAdapter,
  encodePeftAdapter,
  HEAD_KEYS,
  loraKey,
  type PeftAdapter,
} from "./adapterModel";
import { createLoraConfig, loraConfigCanonical, loraConfigRecord } from "./config";
import {
  NonFiniteTensorError,
  PeftConfigError,
  PeftRankError,
  PeftShapeError,
  PeftTensorSetError,
  UnknownModuleError,
  UnsupportedDtypeError,
  UnsupportedPeftFeatureError,
} from "./errors";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./halfPrecision";
import { decodeSafetensors, encodeSafetensors, type FloatTensor } from "./safetensors";
import { PROVENANCE, randomAdapter } from "./testing/randomAdapter";

const LABELS = ["negative", "neutral", "positive"];
const TARGETS = ["encoder.layer.1.attention.qkv", "encoder.layer.1.ffn.out", "pooler.dense"] as const;
const config = createLoraConfig({ r: 4, targetModules: TARGETS, head: true });
const classifier = randomAdapter(config, 1, 0.02, LABELS);
const good = encodePeftAdapter(classifier, PROVENANCE);
const goodFile = decodeSafetensors(good);

/** Re-encodes the good file's tensors and metadata after `mutate` (F32). */
function crafted(mutate: (tensors: Record<string, FloatTensor>, metadata: Record<string, string>) => void) {
  const tensors: Record<string, FloatTensor> = Object.fromEntries(goodFile.tensors);
  const metadata = { ...goodFile.metadata };
  mutate(tensors, metadata);
  return encodeSafetensors(tensors, metadata);
}

function errorOf(bytes: Uint8Array, options = {}): unknown {
  try {
    decodePeftAdapter(bytes, options);
  } catch (error) {
    return error;
  }
  return undefined;
}

function withConfig(patch: Record<string, unknown>) {
  return crafted((_, metadata) => {
    metadata["openlora.adapter_config"] = JSON.stringify({ ...loraConfigRecord(config), ...patch });
  });
}

describe("adapter_model.safetensors", () => {
  it("writes PEFT's keys and orientations, the head as modules_to_save, and our record in __metadata__", () => {
    const shapes = Object.fromEntries([...goodFile.tensors].map(([key, t]) => [key, [t.dtype, ...t.shape]]));
    expect(shapes).toEqual({
      "base_model.model.classifier.bias": ["F32", 3],
      "base_model.model.classifier.weight": ["F32", 3, 512],
      "base_model.model.encoder.layer.1.attention.qkv.lora_A.weight": ["F32", 4, 512],
      "base_model.model.encoder.layer.1.attention.qkv.lora_B.weight": ["F32", 1536, 4],
      "base_model.model.encoder.layer.1.ffn.out.lora_A.weight": ["F32", 4, 1536],
      "base_model.model.encoder.layer.1.ffn.out.lora_B.weight": ["F32", 512, 4],
      "base_model.model.pooler.dense.lora_A.weight": ["F32", 4, 512],
      "base_model.model.pooler.dense.lora_B.weight": ["F32", 512, 4],
    });
    const meta = goodFile.metadata;
    expect(meta.format).toBe("pt");
    expect(meta["openlora.format"]).toBe("openlora-peft-lora/1");
    expect(meta["openlora.base_model_hash"]).toBe(USE_LITE_HASH);
    expect(meta["openlora.adapter_config"]).toBe(loraConfigCanonical(config));
    expect(JSON.parse(meta["openlora.labels"] as string)).toEqual(LABELS);
    expect(meta["openlora.seed"]).toBe("7");
    expect(JSON.parse(meta["openlora.datasets"] as string)[0].hash).toBe(PROVENANCE.datasets[0]?.hash);
    expect(JSON.parse(meta["openlora.contributors"] as string)[0].id).toBe("alice");
    expect(JSON.parse(meta["openlora.metrics"] as string).heldOut.accuracy).toBe(0.9);
  });

  it("round-trips an adapter exactly; its hash is keccak256 of the bytes", () => {
    const decoded = decodePeftAdapter(good, { expectedHash: contentHash(good) });
    expect(decoded.hash).toBe(contentHash(good));
    expect(decoded.adapter).toEqual(classifier);
    expect(decoded.provenance).toEqual(PROVENANCE);
    expect(decoded.dtypes).toEqual(["F32"]);
    const embedding = randomAdapter(createLoraConfig(), 2);
    const bytes = encodePeftAdapter(embedding, { ...PROVENANCE, metrics: {} });
    expect(decodePeftAdapter(bytes).adapter).toEqual(embedding);
    expect(
      Buffer.from(encodePeftAdapter(decodePeftAdapter(bytes).adapter, { ...PROVENANCE, metrics: {} })),
    ).toEqual(Buffer.from(bytes));
  });

  it("gives the same bytes for the same content, whatever the insertion order", () => {
    const reordered = createLoraConfig({ r: 4, targetModules: [...TARGETS].reverse(), head: true });
    const factors = new Map([...classifier.factors].reverse());
    const provenance = Object.fromEntries(Object.entries(PROVENANCE).reverse()) as typeof PROVENANCE;
    const again = encodePeftAdapter({ ...classifier, config: reordered, factors }, provenance);
    expect(Buffer.from(again)).toEqual(Buffer.from(good));
    expect(contentHash(again)).toBe(contentHash(good));
  });

  it("loads F16 and BF16 files as float32, equal to the rounded values", () => {
    for (const [dtype, round] of [
      ["F16", (v: number) => f16ToF32(f32ToF16(v))],
      ["BF16", (v: number) => bf16ToF32(f32ToBf16(v))],
    ] as const) {
      const bytes = encodePeftAdapter(classifier, PROVENANCE, { dtype });
      const decoded = decodePeftAdapter(bytes);
      expect(decoded.dtypes).toEqual([dtype]);
      const key = "encoder.layer.1.ffn.out";
      const loaded = decoded.adapter.factors.get(key)?.b as Float32Array;
      const original = classifier.factors.get(key)?.b as Float32Array;
      expect(loaded).toEqual(Float32Array.from(original, round));
      expect(Math.max(...loaded.map((v, i) => Math.abs(v - (original[i] as number))))).toBeGreaterThan(0);
      expect(decoded.adapter.head?.weight).toEqual(Float32Array.from(classifier.head?.weight ?? [], round));
    }
  });

  it("refuses a tensor of a module USE-lite does not have, naming it", () => {
    const key = "base_model.model.encoder.layer.2.ffn.in.lora_A.weight";
    const error = errorOf(crafted((t) => (t[key] = { shape: [4, 512], data: new Float32Array(2048) })));
    expect(error).toBeInstanceOf(UnknownModuleError);
    expect(String(error)).toContain(key);
    expect(errorOf(withConfig({ target_modules: ["q_proj"] }))).toBeInstanceOf(UnknownModuleError);
  });

  it("refuses wrong shapes, naming the tensor", () => {
    const qkvA = loraKey("encoder.layer.1.attention.qkv", "A");
    const outB = loraKey("encoder.layer.1.ffn.out", "B");
    const cases: [string, FloatTensor][] = [
      [qkvA, { shape: [4, 511], data: new Float32Array(4 * 511) }],
      [qkvA, { shape: [512, 4], data: new Float32Array(2048) }],
      [qkvA, { shape: [1, 4, 512], data: new Float32Array(2048) }],
      [outB, { shape: [511, 4], data: new Float32Array(511 * 4) }],
      [HEAD_KEYS.weight, { shape: [3, 511], data: new Float32Array(3 * 511) }],
      [HEAD_KEYS.weight, { shape: [512, 3], data: new Float32Array(3 * 512) }],
      [HEAD_KEYS.bias, { shape: [2], data: new Float32Array(2) }],
    ];
    for (const [key, tensor] of cases) {
      const error = errorOf(crafted((t) => (t[key] = tensor)));
      expect(error, `${key} [${tensor.shape}]`).toBeInstanceOf(PeftShapeError);
      expect(String(error)).toContain(key);
    }
  });

  it("refuses a rank that differs between lora_A and lora_B, or from r", () => {
    const module = "pooler.dense";
    const a8 = { shape: [8, 512], data: new Float32Array(8 * 512) };
    const b8 = { shape: [512, 8], data: new Float32Array(512 * 8) };
    const mismatch = errorOf(crafted((t) => (t[loraKey(module, "A")] = a8)));
    expect(mismatch).toBeInstanceOf(PeftRankError);
    expect(String(mismatch)).toContain(loraKey(module, "A"));
    const notR = errorOf(
      crafted((t) => {
        t[loraKey(module, "A")] = a8;
        t[loraKey(module, "B")] = b8;
      }),
    );
    expect(notR).toBeInstanceOf(PeftRankError);
    expect(String(notR)).toMatch(/rank 8, the config's r is 4/);
  });

  it("refuses another base: by hash and by name", () => {
    const other = `0x${"22".repeat(32)}` as const;
    expect(errorOf(good, { baseHash: other })).toBeInstanceOf(BaseModelMismatchError);
    const renamed = crafted((_, m) => (m["openlora.base_model_hash"] = other));
    expect(errorOf(renamed)).toBeInstanceOf(BaseModelMismatchError);
    expect(String(errorOf(renamed))).toContain("openlora.base_model_hash");
    expect(errorOf(withConfig({ base_model_name_or_path: "bert-base-uncased" }))).toBeInstanceOf(
      BaseModelMismatchError,
    );
  });

  it("refuses dtypes other than F32, F16 and BF16, naming the tensor", () => {
    const text = Buffer.from(good).toString("latin1");
    const at = text.indexOf('"dtype":"F32"');
    const bytes = Uint8Array.from(
      Buffer.from(`${text.slice(0, at)}"dtype":"I32"${text.slice(at + 13)}`, "latin1"),
    );
    const error = errorOf(bytes);
    expect(error).toBeInstanceOf(UnsupportedDtypeError);
    expect(String(error)).toContain(HEAD_KEYS.bias);
  });

  it("refuses a file whose config asks for a PEFT feature we do not serve", () => {
    for (const patch of [
      { use_dora: true },
      { lora_bias: true },
      { bias: "all" },
      { fan_in_fan_out: true },
    ]) {
      expect(errorOf(withConfig(patch)), JSON.stringify(patch)).toBeInstanceOf(UnsupportedPeftFeatureError);
    }
    expect(errorOf(withConfig({ peft_type: "LOHA" }))).toBeInstanceOf(UnsupportedPeftFeatureError);
  });

  it("refuses tensors the config does not declare, and declared tensors that are missing", () => {
    const extra: [string, FloatTensor][] = [
      ["base_model.model.pooler.dense.lora_magnitude_vector", { shape: [512], data: new Float32Array(512) }],
      [loraKey("encoder.layer.0.ffn.in", "A"), { shape: [4, 512], data: new Float32Array(2048) }],
      ["base_model.model.pooler.dense.lora_A.bias", { shape: [4], data: new Float32Array(4) }],
      ["lm_head.weight", { shape: [1], data: new Float32Array(1) }],
    ];
    for (const [key, tensor] of extra) {
      const error = errorOf(crafted((t) => (t[key] = tensor)));
      expect(error, key).toBeInstanceOf(PeftTensorSetError);
      expect(String(error)).toContain(key);
    }
    for (const key of [
      loraKey("pooler.dense", "B"),
      loraKey("encoder.layer.1.ffn.out", "A"),
      HEAD_KEYS.bias,
    ]) {
      const error = errorOf(crafted((t) => delete t[key]));
      expect(error, key).toBeInstanceOf(PeftTensorSetError);
      expect(String(error)).toContain(`${key} is declared by the config but missing`);
    }
    const headless = withConfig({ modules_to_save: null, task_type: "FEATURE_EXTRACTION" });
    expect(errorOf(headless)).toBeInstanceOf(PeftTensorSetError);
  });

  it("refuses truncated and tampered files", () => {
    for (const cut of [1, 4, good.length - 100, good.length - 9]) {
      expect(errorOf(good.subarray(0, good.length - cut)), `cut ${cut}`).toBeInstanceOf(
        SafetensorsFormatError,
      );
    }
    const tampered = Uint8Array.from(good);
    tampered[tampered.length - 5] = (tampered[tampered.length - 5] as number) ^ 1;
    expect(errorOf(tampered, { expectedHash: contentHash(good) })).toBeInstanceOf(AdapterHashMismatchError);
    const header = Uint8Array.from(good);
    header[8] = "[".charCodeAt(0);
    expect(errorOf(header)).toBeInstanceOf(SafetensorsFormatError);
    const longer = Uint8Array.from(good);
    new DataView(longer.buffer).setBigUint64(0, BigInt(good.length), true);
    expect(errorOf(longer)).toBeInstanceOf(SafetensorsFormatError);
  });

  it("refuses non-finite values, files that are not ours, bad labels and bad provenance", () => {
    const key = loraKey("pooler.dense", "B");
    const nan = errorOf(
      crafted((t) => {
        const data = Float32Array.from(t[key]?.data ?? []);
        data[7] = Number.NaN;
        t[key] = { shape: [512, 4], data };
      }),
    );
    expect(nan).toBeInstanceOf(NonFiniteTensorError);
    expect(String(nan)).toContain(key);
    for (const [at, value] of [
      [0, Number.POSITIVE_INFINITY],
      [2047, Number.NEGATIVE_INFINITY],
    ] as const) {
      const infinite = errorOf(
        crafted((t) => {
          const data = Float32Array.from(t[key]?.data ?? []);
          data[at] = value;
          t[key] = { shape: [512, 4], data };
        }),
      );
      expect(infinite).toBeInstanceOf(NonFiniteTensorError);
      expect(String(infinite)).toContain(`at ${at}`);
    }
    // A plain PEFT file: no record of the base it was trained on.
    expect(errorOf(crafted((_, m) => delete m["openlora.format"]))).toBeInstanceOf(SafetensorsFormatError);
    expect(errorOf(crafted((_, m) => (m["openlora.labels"] = '["only"]')))).toBeInstanceOf(
      SafetensorsFormatError,
    );
    expect(errorOf(crafted((_, m) => (m["openlora.labels"] = '["a","a","b"]')))).toBeInstanceOf(
      SafetensorsFormatError,
    );
    expect(errorOf(crafted((_, m) => (m["openlora.seed"] = "seven")))).toBeInstanceOf(SafetensorsFormatError);
    expect(errorOf(crafted((_, m) => delete m["openlora.datasets"]))).toBeInstanceOf(SafetensorsFormatError);
  });

  it("refuses an adapter_config.json that differs from the config inside the file", () => {
    const other = createLoraConfig({ r: 4, targetModules: TARGETS, head: true, alpha: 32 });
    expect(errorOf(good, { config: other })).toBeInstanceOf(PeftConfigError);
    expect(errorOf(good, { config })).toBeUndefined();
  });

  it("refuses to encode an adapter that would not load", () => {
    const bad = (patch: Partial<PeftAdapter>) => () => adapterTensors({ ...classifier, ...patch });
    const factors = new Map(classifier.factors);
    factors.delete("pooler.dense");
    expect(bad({ factors })).toThrow(PeftTensorSetError);
    const short = new Map(classifier.factors);
    short.set("pooler.dense", { a: new Float32Array(10), b: new Float32Array(512 * 4) });
    expect(bad({ factors: short })).toThrow(PeftShapeError);
    const extra = new Map(classifier.factors);
    extra.set("encoder.layer.0.residual", { a: new Float32Array(4 * 256), b: new Float32Array(512 * 4) });
    expect(bad({ factors: extra })).toThrow(PeftTensorSetError);
    expect(USE_LITE_MODULES["encoder.layer.0.residual"].inputs).toBe(256);
  });
});

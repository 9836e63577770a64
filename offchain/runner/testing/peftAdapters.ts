/**
 * USE-lite PEFT adapters with random factors for the runner's and the CLI's tests: as bytes
 * (what the store holds), as a directory (what `serve --adapters` and `eval --adapter` read),
 * and decoded back (what the reference computes with: F16 files are rounded on the way).
 */
import type { Hex } from "viem";
import { USE_LITE_MODULE_NAMES } from "../../ml/base/useLite/modules";
import { savePeftAdapter } from "../../ml/peft/adapterDirectory";
import { type DecodedPeftAdapter, decodePeftAdapter, encodePeftAdapter } from "../../ml/peft/adapterModel";
import { createLoraConfig, type LoraOptions } from "../../ml/peft/config";
import type { SafetensorsDtype } from "../../ml/peft/safetensors";
import { PROVENANCE, randomAdapter } from "../../ml/peft/testing/randomAdapter";

export interface PeftFixture {
  /** LoRA options; a head when `labels` are given. */
  lora?: LoraOptions;
  seed: number;
  labels?: string[];
  /** Scale of lora_B's draws (default 0.02, as after some training). */
  bScale?: number;
  dtype?: SafetensorsDtype;
}

export interface PeftAdapterBytes {
  bytes: Uint8Array;
  hash: Hex;
  decoded: DecodedPeftAdapter;
}

/**
 * Four adapters that differ in every way a batch can mix them: with a head and without, ranks 2
 * to 16, rsLoRA, different target modules, an F16 file (the executor's and the thread's tests).
 */
export const MIXED_PEFT_FIXTURES: Record<string, PeftFixture> = {
  "classifier, default targets, r 8": { seed: 31, labels: ["bearish", "neutral", "bullish"] },
  "embedding, all ten modules, r 4, rsLoRA": {
    seed: 32,
    lora: { r: 4, alpha: 8, useRslora: true, targetModules: USE_LITE_MODULE_NAMES },
  },
  "classifier, layer 0 attention + pooler, r 16, F16 file": {
    seed: 33,
    labels: ["ham", "spam"],
    bScale: 0.1,
    lora: {
      r: 16,
      alpha: 32,
      targetModules: ["encoder.layer.0.attention.qkv", "encoder.layer.0.attention.output", "pooler.dense"],
    },
    dtype: "F16",
  },
  "embedding, layer 1 feed-forward, r 2": {
    seed: 34,
    lora: { r: 2, alpha: 4, targetModules: ["encoder.layer.1.ffn.in", "encoder.layer.1.ffn.out"] },
  },
};

function adapterOf(fixture: PeftFixture) {
  const config = createLoraConfig({ ...fixture.lora, head: fixture.labels !== undefined });
  return randomAdapter(config, fixture.seed, fixture.bScale ?? 0.02, fixture.labels);
}

export function peftAdapterBytes(fixture: PeftFixture): PeftAdapterBytes {
  const options = fixture.dtype ? { dtype: fixture.dtype } : {};
  const bytes = encodePeftAdapter(adapterOf(fixture), PROVENANCE, options);
  const decoded = decodePeftAdapter(bytes);
  return { bytes, hash: decoded.hash, decoded };
}

/** Writes the adapter directory (config, safetensors, manifest); returns the registered hash. */
export function writePeftAdapter(dir: string, fixture: PeftFixture): Hex {
  const options = fixture.dtype ? { dtype: fixture.dtype } : {};
  return savePeftAdapter(dir, adapterOf(fixture), PROVENANCE, options).adapter.hash as Hex;
}

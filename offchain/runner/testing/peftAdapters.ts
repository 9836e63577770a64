/**
 * USE-lite PEFT adapters with random factors for the runner's and the CLI's tests: as bytes
 * (what the store holds), as a directory (what `serve --adapters` and `eval --adapter` read),
 * and decoded back (what the reference computes with: F16 files are rounded on the way).
 */
import type { Hex } from "viem";
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

/**
 * Where a configured adapter source's bytes are: a file, or the file a trained adapter directory
 * holds. Kept free of the model code (no onnxruntime), so that `openlora serve`'s checks load fast.
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { ADAPTER_FILE } from "../ml/adapter/adapterFile";

/** PEFT's file name (ADAPTER_MODEL_FILE of ml/peft/adapterModel.ts, which loads onnxruntime). */
export const PEFT_ADAPTER_FILE = "adapter_model.safetensors";

/**
 * The adapter file of `source`: the source itself, or in a directory PEFT's
 * adapter_model.safetensors (a USE-lite adapter) or else lande's adapter.safetensors.
 */
export function adapterFileOf(source: string): string {
  if (!existsSync(source) || !statSync(source).isDirectory()) return source;
  const peft = path.join(source, PEFT_ADAPTER_FILE);
  return existsSync(peft) ? peft : path.join(source, ADAPTER_FILE);
}

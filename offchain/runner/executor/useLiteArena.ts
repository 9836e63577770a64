/**
 * The stacked LoRA factors of every USE-lite adapter slot, for the gather graph
 * (useLiteGatherGraph.ts): per module `<module>.lora_a` [slots, in, maxRank] and
 * `<module>.lora_b` [slots, maxRank, out], as onnxruntime tensors over arrays that a load writes
 * in place. An adapter of a lower rank fills its first r columns of A and rows of B and leaves
 * zeros after them, which add nothing; a module it does not target stays all zeros (the base).
 */
import * as ort from "onnxruntime-node";
import { USE_LITE_MODULE_NAMES, USE_LITE_MODULES } from "../../ml/base/useLite/modules";
import type { PeftAdapter } from "../../ml/peft/adapterModel";
import { sideInputs } from "../../ml/peft/loraMath";

export class UseLiteArena {
  private readonly arrays = new Map<string, Float32Array>();
  /** The arena as graph inputs, built once over the arrays. */
  readonly feeds: Record<string, ort.Tensor> = {};

  constructor(
    readonly slots: number,
    readonly maxRank: number,
  ) {
    for (const module of USE_LITE_MODULE_NAMES) {
      const { inputs, outputs } = USE_LITE_MODULES[module];
      for (const [name, dims] of [
        [`${module}.lora_a`, [slots, inputs, maxRank]],
        [`${module}.lora_b`, [slots, maxRank, outputs]],
      ] as const) {
        const data = new Float32Array(dims[0] * dims[1] * dims[2]);
        this.arrays.set(name, data);
        this.feeds[name] = new ort.Tensor("float32", data, [...dims]);
      }
    }
  }

  /** Writes an adapter's side inputs (Aᵀ, Bᵀ·scaling) into `slot`, zero-padded to maxRank. */
  write(slot: number, adapter: PeftAdapter): void {
    const r = adapter.config.r;
    const R = this.maxRank;
    for (const [name, { shape, data }] of sideInputs(adapter, USE_LITE_MODULE_NAMES)) {
      const arena = this.arrays.get(name) as Float32Array;
      if (name.endsWith(".lora_a")) {
        const inputs = shape[0];
        const block = arena.subarray(slot * inputs * R, (slot + 1) * inputs * R).fill(0);
        for (let i = 0; i < inputs; i++) block.set(data.subarray(i * r, (i + 1) * r), i * R);
      } else {
        const outputs = shape[1];
        const block = arena.subarray(slot * R * outputs, (slot + 1) * R * outputs).fill(0);
        block.set(data, 0); // [r, out] rows first; rows r..R stay 0
      }
    }
  }
}

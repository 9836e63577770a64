/**
 * The stacked LoRA factors of every USE-lite adapter slot, for the gather graph
 * (useLiteGatherGraph.ts): per module `<module>.lora_a` [slots, in, maxRank] and
 * `<module>.lora_b` [slots, maxRank, out], as onnxruntime tensors over arrays that a load writes
 * in place. An adapter of a lower rank fills its first r columns of A and rows of B and leaves
 * zeros after them, which add nothing; a module it does not target stays all zeros (the base).
 * useLiteArena.test.ts checks a slot against sideInputs, the layout the side-input graph reads.
 */
import * as ort from "onnxruntime-node";
import { USE_LITE_MODULE_NAMES, USE_LITE_MODULES } from "../../ml/base/useLite/modules";
import type { PeftAdapter } from "../../ml/peft/adapterModel";
import { loraScaling } from "../../ml/peft/config";

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

  /**
   * Writes an adapter's Aᵀ and Bᵀ·scaling into `slot`, zero-padded to maxRank, straight from its
   * factors (the values of sideInputs, without its intermediate arrays: a cold load's cost).
   */
  write(slot: number, adapter: PeftAdapter): void {
    const { config } = adapter;
    const r = config.r;
    const R = this.maxRank;
    const scaling = loraScaling(config);
    for (const module of USE_LITE_MODULE_NAMES) {
      const { inputs, outputs } = USE_LITE_MODULES[module];
      const a = (this.arrays.get(`${module}.lora_a`) as Float32Array).subarray(
        slot * inputs * R,
        (slot + 1) * inputs * R,
      );
      const b = (this.arrays.get(`${module}.lora_b`) as Float32Array).subarray(
        slot * R * outputs,
        (slot + 1) * R * outputs,
      );
      const factors = adapter.factors.get(module);
      if (!factors) {
        a.fill(0); // an untargeted module stays zero: the base
        b.fill(0);
        continue;
      }
      for (let i = 0; i < inputs; i++) {
        const row = i * R;
        for (let k = 0; k < r; k++) a[row + k] = factors.a[k * inputs + i] as number;
        a.fill(0, row + r, row + R);
      }
      for (let k = 0; k < r; k++) {
        const row = k * outputs;
        for (let o = 0; o < outputs; o++) b[row + o] = (factors.b[o * r + k] as number) * scaling;
      }
      b.fill(0, r * outputs);
    }
  }
}

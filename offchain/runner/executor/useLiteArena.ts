/**
 * The LoRA factors of every USE-lite adapter slot, for the gather graph (useLiteGatherGraph.ts):
 * per module two flat tables that a load writes in place,
 *
 *   `<module>.lora_a` [slots·R, in]       rows slot·R … slot·R + R − 1: the adapter's A (PEFT's
 *                                          lora_A.weight rows, as the file holds them)
 *   `<module>.lora_b` [slots·R + 1, out]  the same rows of Bᵀ·scaling; the last row is the
 *                                          module's frozen bias, which the graph adds through it
 *
 * with R = maxRank. An adapter of a lower rank leaves zeros after its r rows, which add nothing
 * when a batch runs at a higher rank; a module it does not target has rank 0 in its slot. The
 * arena knows each slot's rank per module, and `indexFeeds` gives a batch its index inputs at the
 * batch's own rank per module. useLiteArena.test.ts checks a slot against sideInputs, the layout
 * the side-input graph reads.
 */
import * as ort from "onnxruntime-node";
import {
  USE_LITE_MODULE_NAMES,
  USE_LITE_MODULES,
  type UseLiteModuleName,
} from "../../ml/base/useLite/modules";
import type { PeftAdapter } from "../../ml/peft/adapterModel";
import { loraScaling } from "../../ml/peft/config";
import { loraIndexInputs } from "./useLiteGatherGraph";

const MODULES = USE_LITE_MODULE_NAMES;

export class UseLiteArena {
  private readonly a = new Map<UseLiteModuleName, Float32Array>();
  private readonly b = new Map<UseLiteModuleName, Float32Array>();
  /** ranks[slot · modules + m]: the rank of the slot's adapter on module m (0: untargeted). */
  private readonly ranks: Uint8Array;
  /** The factor tables as graph inputs, built once over the arrays. */
  readonly feeds: Record<string, ort.Tensor> = {};

  /** `biases`: each module's frozen bias, as buildUseLiteGatherGraph took it out of the graph. */
  constructor(
    readonly slots: number,
    readonly maxRank: number,
    biases: ReadonlyMap<UseLiteModuleName, Float32Array>,
  ) {
    if (maxRank > 255) throw new RangeError(`maxRank ${maxRank} is above 255`);
    this.ranks = new Uint8Array(slots * MODULES.length);
    const rows = slots * maxRank;
    for (const module of MODULES) {
      const { inputs, outputs } = USE_LITE_MODULES[module];
      const bias = biases.get(module);
      if (bias?.length !== outputs) throw new Error(`no bias of ${outputs} values for ${module}`);
      const a = new Float32Array(rows * inputs);
      const b = new Float32Array((rows + 1) * outputs);
      b.set(bias, rows * outputs);
      this.a.set(module, a);
      this.b.set(module, b);
      this.feeds[`${module}.lora_a`] = new ort.Tensor("float32", a, [rows, inputs]);
      this.feeds[`${module}.lora_b`] = new ort.Tensor("float32", b, [rows + 1, outputs]);
    }
  }

  /**
   * Writes an adapter's A and Bᵀ·scaling into `slot`, zero after its rank, straight from its
   * factors (a cold load's cost: A is one copy per module).
   */
  write(slot: number, adapter: PeftAdapter): void {
    const { r } = adapter.config;
    const R = this.maxRank;
    const scaling = loraScaling(adapter.config);
    MODULES.forEach((module, m) => {
      const { inputs, outputs } = USE_LITE_MODULES[module];
      const a = (this.a.get(module) as Float32Array).subarray(slot * R * inputs, (slot + 1) * R * inputs);
      const b = (this.b.get(module) as Float32Array).subarray(slot * R * outputs, (slot + 1) * R * outputs);
      const factors = adapter.factors.get(module);
      this.ranks[slot * MODULES.length + m] = factors ? r : 0;
      if (!factors) {
        a.fill(0);
        b.fill(0);
        return;
      }
      a.set(factors.a.subarray(0, r * inputs));
      a.fill(0, r * inputs);
      for (let k = 0; k < r; k++) {
        const row = k * outputs;
        for (let o = 0; o < outputs; o++) b[row + o] = (factors.b[o * r + k] as number) * scaling;
      }
      b.fill(0, r * outputs);
    });
  }

  /**
   * The index inputs of a run whose rows use `slots`: per module, each row's rows slot·R + k for
   * k below the highest rank those slots have on the module, then (for B) the bias row.
   */
  indexFeeds(slots: readonly number[]): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    const R = this.maxRank;
    const biasRow = BigInt(this.slots * R);
    MODULES.forEach((module, m) => {
      let rank = 0;
      for (const slot of slots) rank = Math.max(rank, this.ranks[slot * MODULES.length + m] as number);
      const a = new BigInt64Array(slots.length * rank);
      const b = new BigInt64Array(slots.length * (rank + 1));
      slots.forEach((slot, j) => {
        for (let k = 0; k < rank; k++) {
          a[j * rank + k] = BigInt(slot * R + k);
          b[j * (rank + 1) + k] = BigInt(slot * R + k);
        }
        b[j * (rank + 1) + rank] = biasRow;
      });
      const index = loraIndexInputs(module);
      feeds[index.a] = new ort.Tensor("int64", a, [slots.length, rank]);
      feeds[index.b] = new ort.Tensor("int64", b, [slots.length, rank + 1]);
    });
    return feeds;
  }
}

/**
 * Fixed-size slots of LoRA factors and task heads, stacked in the arrays that the native kernel
 * reads in place and the gather graph takes as inputs (see gatherGraph.ts). Each slot is padded
 * to the arena's maximum rank and class count, so every slot costs the same memory and an
 * adapter is loaded by writing into its slot.
 */
import * as ort from "onnxruntime-node";
import type { LoraAdapter } from "../../ml/adapter/adapter";
import type { BaseModel } from "../../ml/base/baseModel";
import { GATHER_INPUTS } from "./gatherGraph";
import type { ArenaFactors } from "./loraKernel";

/** Bias of padded classes: exp(-1e9 - max) is exactly 0 in float32. */
const PADDED_CLASS_BIAS = -1e9;

export interface ArenaShape {
  slots: number;
  maxRank: number;
  maxClasses: number;
}

export class AdapterTooLargeError extends Error {
  constructor(readonly details: { rank: number; classes: number; maxRank: number; maxClasses: number }) {
    super(
      `adapter of rank ${details.rank} with ${details.classes} classes does not fit the serving arena ` +
        `(at most rank ${details.maxRank} and ${details.maxClasses} classes)`,
    );
    this.name = "AdapterTooLargeError";
  }
}

export class AdapterArena {
  readonly d: number;
  readonly k: number;
  /** Per slot, laid out as gatherGraph.ts describes; written in place by `write`. */
  readonly factors: ArenaFactors;
  /** The arena as graph inputs: tensors over the arrays of `factors`, built once. */
  readonly feeds: Record<string, ort.Tensor>;

  constructor(
    private readonly base: BaseModel,
    readonly shape: ArenaShape,
  ) {
    const { slots, maxRank: r, maxClasses: c } = shape;
    this.d = base.hidden.inputs;
    this.k = base.hidden.outputs;
    const factors = {
      aT: new Float32Array(slots * r * this.d),
      scaledBT: new Float32Array(slots * this.k * r),
      headWeightT: new Float32Array(slots * c * this.k),
      headBias: new Float32Array(slots * c).fill(PADDED_CLASS_BIAS),
      slotRanks: new Uint16Array(slots),
      slotClasses: new Uint16Array(slots),
    };
    this.factors = factors;
    this.feeds = {
      [GATHER_INPUTS.aT]: new ort.Tensor("float32", factors.aT, [slots, r, this.d]),
      [GATHER_INPUTS.scaledBT]: new ort.Tensor("float32", factors.scaledBT, [slots, this.k, r]),
      [GATHER_INPUTS.headWeightT]: new ort.Tensor("float32", factors.headWeightT, [slots, c, this.k]),
      [GATHER_INPUTS.headBias]: new ort.Tensor("float32", factors.headBias, [slots, c, 1]),
    };
  }

  /** Memory one slot takes, in bytes. */
  static bytesPerSlot(base: BaseModel, maxRank: number, maxClasses: number): number {
    const { inputs: d, outputs: k } = base.hidden;
    return 4 * (maxRank * d + k * maxRank + maxClasses * k + maxClasses);
  }

  classes(slot: number): number {
    return this.factors.slotClasses[slot] as number;
  }

  /** Writes an adapter into a slot; an adapter without a head uses the base's output layer. */
  write(slot: number, adapter: LoraAdapter): void {
    const { maxRank: R, maxClasses: C } = this.shape;
    const head = adapter.head ?? { weight: this.base.output.weights, bias: this.base.output.biases };
    const classes = head.bias.length;
    if (adapter.rank > R || classes > C) {
      throw new AdapterTooLargeError({ rank: adapter.rank, classes, maxRank: R, maxClasses: C });
    }
    const { d, k } = this;
    const { aT, scaledBT, headWeightT, headBias, slotRanks, slotClasses } = this.factors;
    const r = adapter.rank;
    // Aᵀ: row q of the slot is column q of A [d, r]; padded rows stay zero.
    const aSlot = aT.subarray(slot * R * d, (slot + 1) * R * d).fill(0);
    for (let i = 0; i < d; i++) for (let q = 0; q < r; q++) aSlot[q * d + i] = adapter.a[i * r + q] as number;
    // (scale·B)ᵀ: row j holds column j of B [r, k], scaled; padded columns stay zero.
    const bSlot = scaledBT.subarray(slot * k * R, (slot + 1) * k * R).fill(0);
    for (let q = 0; q < r; q++)
      for (let j = 0; j < k; j++) bSlot[j * R + q] = adapter.scale * (adapter.b[q * k + j] as number);
    // Hᵀ: row c holds class c's weights over the k hidden units.
    const wSlot = headWeightT.subarray(slot * C * k, (slot + 1) * C * k).fill(0);
    for (let j = 0; j < k; j++)
      for (let c = 0; c < classes; c++) wSlot[c * k + j] = head.weight[j * classes + c] as number;
    const biasSlot = headBias.subarray(slot * C, (slot + 1) * C).fill(PADDED_CLASS_BIAS);
    biasSlot.set(head.bias);
    slotRanks[slot] = r;
    slotClasses[slot] = classes;
  }
}

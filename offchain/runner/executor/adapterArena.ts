/**
 * Fixed-size slots of LoRA factors and task heads, stacked in the tensors the gather graph
 * reads (see gatherGraph.ts). Each slot is padded to the arena's maximum rank and class count,
 * so every slot costs the same memory and an adapter is loaded by writing into its slot.
 */
import * as ort from "onnxruntime-node";
import type { LoraAdapter } from "../../ml/adapter/adapter";
import type { BaseModel } from "../../ml/base/baseModel";
import { GATHER_INPUTS } from "./gatherGraph";

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
  private readonly a: Float32Array;
  private readonly b: Float32Array;
  private readonly scale: Float32Array;
  private readonly headWeight: Float32Array;
  private readonly headBias: Float32Array;
  private readonly classCounts: Uint16Array;
  /** The arena as graph inputs; built once, the arrays behind them are written in place. */
  readonly feeds: Record<string, ort.Tensor>;

  constructor(
    private readonly base: BaseModel,
    readonly shape: ArenaShape,
  ) {
    const { slots, maxRank: r, maxClasses: c } = shape;
    this.d = base.hidden.inputs;
    this.k = base.hidden.outputs;
    this.a = new Float32Array(slots * this.d * r);
    this.b = new Float32Array(slots * r * this.k);
    this.scale = new Float32Array(slots);
    this.headWeight = new Float32Array(slots * this.k * c);
    this.headBias = new Float32Array(slots * c).fill(PADDED_CLASS_BIAS);
    this.classCounts = new Uint16Array(slots);
    this.feeds = {
      [GATHER_INPUTS.a]: new ort.Tensor("float32", this.a, [slots, this.d, r]),
      [GATHER_INPUTS.b]: new ort.Tensor("float32", this.b, [slots, r, this.k]),
      [GATHER_INPUTS.scale]: new ort.Tensor("float32", this.scale, [slots]),
      [GATHER_INPUTS.headWeight]: new ort.Tensor("float32", this.headWeight, [slots, this.k, c]),
      [GATHER_INPUTS.headBias]: new ort.Tensor("float32", this.headBias, [slots, c]),
    };
  }

  /** Memory one slot takes, in bytes. */
  static bytesPerSlot(base: BaseModel, maxRank: number, maxClasses: number): number {
    const { inputs: d, outputs: k } = base.hidden;
    return 4 * (d * maxRank + maxRank * k + 1 + k * maxClasses + maxClasses);
  }

  classes(slot: number): number {
    return this.classCounts[slot] as number;
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
    const r = adapter.rank;
    const aSlot = this.a.subarray(slot * d * R, (slot + 1) * d * R).fill(0);
    for (let i = 0; i < d; i++) aSlot.set(adapter.a.subarray(i * r, (i + 1) * r), i * R);
    const bSlot = this.b.subarray(slot * R * k, (slot + 1) * R * k).fill(0);
    bSlot.set(adapter.b); // rows 0..r-1 of [R, k]; the padded rows stay zero
    this.scale[slot] = adapter.scale;
    const wSlot = this.headWeight.subarray(slot * k * C, (slot + 1) * k * C).fill(0);
    for (let j = 0; j < k; j++) wSlot.set(head.weight.subarray(j * classes, (j + 1) * classes), j * C);
    const biasSlot = this.headBias.subarray(slot * C, (slot + 1) * C).fill(PADDED_CLASS_BIAS);
    biasSlot.set(head.bias);
    this.classCounts[slot] = classes;
  }
}

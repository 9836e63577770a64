/**
 * Runs a batch of rows, each with its own adapter slot, through one onnxruntime session of
 * the gather graph. Returns each row's probabilities over its adapter's classes.
 */
import * as ort from "onnxruntime-node";
import type { BaseModel } from "../../ml/base/baseModel";
import { AdapterArena, type ArenaShape } from "./adapterArena";
import { buildGatherGraph, GATHER_INPUTS, GATHER_OUTPUT } from "./gatherGraph";

export interface Row {
  features: Float32Array;
  slot: number;
}

export class MultiAdapterExecutor {
  private constructor(
    readonly base: BaseModel,
    readonly arena: AdapterArena,
    private readonly session: ort.InferenceSession,
  ) {}

  static async create(base: BaseModel, shape: ArenaShape, threads = 1): Promise<MultiAdapterExecutor> {
    const session = await ort.InferenceSession.create(buildGatherGraph(base), {
      executionProviders: ["cpu"],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    return new MultiAdapterExecutor(base, new AdapterArena(base, shape), session);
  }

  async run(rows: readonly Row[]): Promise<Float32Array[]> {
    if (rows.length === 0) return [];
    const d = this.arena.d;
    const features = new Float32Array(rows.length * d);
    const slots = new BigInt64Array(rows.length);
    rows.forEach((row, i) => {
      if (row.features.length !== d)
        throw new Error(`row ${i} has ${row.features.length} features, expected ${d}`);
      features.set(row.features, i * d);
      slots[i] = BigInt(row.slot);
    });
    const result = await this.session.run({
      ...this.arena.feeds,
      [GATHER_INPUTS.features]: new ort.Tensor("float32", features, [rows.length, d]),
      [GATHER_INPUTS.slot]: new ort.Tensor("int64", slots, [rows.length]),
    });
    const output = result[GATHER_OUTPUT];
    if (!output) throw new Error(`the gather graph returned no ${GATHER_OUTPUT}`);
    const probabilities = output.data as Float32Array;
    const width = this.arena.shape.maxClasses;
    return rows.map((row, i) => probabilities.slice(i * width, i * width + this.arena.classes(row.slot)));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

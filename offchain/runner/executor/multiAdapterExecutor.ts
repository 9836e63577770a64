/**
 * Runs a batch of rows, each with its own adapter slot, in one onnxruntime run over the base
 * model and, where the native kernel is built, one call into it (loraKernel.ts says how the
 * two ways differ). Returns each row's probabilities over its adapter's classes.
 */
import * as ort from "onnxruntime-node";
import type { BaseModel } from "../../ml/base/baseModel";
import { AdapterArena, type ArenaShape } from "./adapterArena";
import { BASE_LAYER_INPUT, BASE_LAYER_OUTPUT, buildBaseLayerGraph } from "./baseLayerGraph";
import { buildGatherGraph, GATHER_INPUTS, GATHER_OUTPUT } from "./gatherGraph";
import { type LoraKernel, type LoraKernelChoice, resolveLoraKernel } from "./loraKernel";

export interface Row {
  features: Float32Array;
  slot: number;
}

export interface ExecutorOptions {
  /** onnxruntime's threads for the session (default 1, which leaves a core to HTTP and payments). */
  threads?: number;
  /** How rows get their adapters (default "auto": the native kernel where it was built). */
  kernel?: LoraKernelChoice;
}

interface InputBuffers {
  features: Float32Array;
  /** The graph takes slots as int64, the kernel as int32. */
  slots64: BigInt64Array;
  slots32: Int32Array;
}

export class MultiAdapterExecutor {
  private spare: InputBuffers | undefined;

  private constructor(
    readonly base: BaseModel,
    readonly arena: AdapterArena,
    private readonly session: ort.InferenceSession,
    private readonly kernel: LoraKernel | null,
  ) {}

  static async create(
    base: BaseModel,
    shape: ArenaShape,
    { threads = 1, kernel: choice = "auto" }: ExecutorOptions = {},
  ): Promise<MultiAdapterExecutor> {
    const kernel = resolveLoraKernel(choice);
    const graph = kernel ? buildBaseLayerGraph(base) : buildGatherGraph(base);
    const session = await ort.InferenceSession.create(graph, {
      executionProviders: ["cpu"],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    return new MultiAdapterExecutor(base, new AdapterArena(base, shape), session, kernel);
  }

  /** "native (avx2+fma)" or "graph": what serves the rows, for logs and benchmarks. */
  get method(): string {
    return this.kernel ? `native (${this.kernel.isa})` : "graph";
  }

  async run(rows: readonly Row[]): Promise<Float32Array[]> {
    if (rows.length === 0) return [];
    const d = this.arena.d;
    const buffers = this.takeBuffers(rows.length);
    const features = buffers.features.subarray(0, rows.length * d);
    try {
      rows.forEach((row, i) => {
        if (row.features.length !== d)
          throw new Error(`row ${i} has ${row.features.length} features, expected ${d}`);
        features.set(row.features, i * d);
      });
      const probabilities = this.kernel
        ? await this.runNative(rows, features, buffers.slots32.subarray(0, rows.length), this.kernel)
        : await this.runGraph(rows, features, buffers.slots64.subarray(0, rows.length));
      const width = this.arena.shape.maxClasses;
      // Views of the run's own output, which nothing else holds or writes.
      return rows.map((row, i) =>
        probabilities.subarray(i * width, i * width + this.arena.classes(row.slot)),
      );
    } finally {
      this.spare = buffers;
    }
  }

  /** The base layer in onnxruntime, then the kernel over the arena: [rows, maxClasses]. */
  private async runNative(
    rows: readonly Row[],
    features: Float32Array,
    slots: Int32Array,
    kernel: LoraKernel,
  ): Promise<Float32Array> {
    rows.forEach((row, i) => {
      slots[i] = row.slot;
    });
    const { d, k, shape } = this.arena;
    const result = await this.session.run({
      [BASE_LAYER_INPUT]: new ort.Tensor("float32", features, [rows.length, d]),
    });
    const pre = result[BASE_LAYER_OUTPUT]?.data;
    if (!(pre instanceof Float32Array)) throw new Error(`the base layer returned no ${BASE_LAYER_OUTPUT}`);
    const out = new Float32Array(rows.length * shape.maxClasses);
    const dims = { d, k, rank: shape.maxRank, classes: shape.maxClasses };
    return kernel.adaptRows(pre, features, slots, this.arena.factors, dims, out);
  }

  /** The gather graph alone: [rows, maxClasses]. */
  private async runGraph(
    rows: readonly Row[],
    features: Float32Array,
    slots: BigInt64Array,
  ): Promise<Float32Array> {
    rows.forEach((row, i) => {
      slots[i] = BigInt(row.slot);
    });
    const result = await this.session.run({
      ...this.arena.feeds,
      [GATHER_INPUTS.features]: new ort.Tensor("float32", features, [rows.length, this.arena.d]),
      [GATHER_INPUTS.slot]: new ort.Tensor("int64", slots, [rows.length]),
    });
    const output = result[GATHER_OUTPUT];
    if (!output) throw new Error(`the gather graph returned no ${GATHER_OUTPUT}`);
    return output.data as Float32Array;
  }

  /**
   * Input buffers for a batch of `rows`: the spare set when it is free and large enough (a fresh
   * 100 KB allocation per batch costs about 5% of a run at 768 wide), else a new set. Runs that
   * overlap each get their own.
   */
  private takeBuffers(rows: number): InputBuffers {
    const spare = this.spare;
    this.spare = undefined;
    if (spare && spare.slots32.length >= rows) return spare;
    const capacity = Math.max(rows, spare?.slots32.length ?? 0);
    return {
      features: new Float32Array(capacity * this.arena.d),
      slots64: new BigInt64Array(capacity),
      slots32: new Int32Array(capacity),
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

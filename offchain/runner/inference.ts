/**
 * Text in, an answer out, for any registered adapter of one base model: prepares the text for
 * the base (lande's features, USE-lite's token ids), pins the adapter's slot for the request,
 * and runs it in a micro-batch with whatever other requests (of any model) are waiting. An
 * adapter with labels answers a classification; one without (a USE-lite adapter with no head)
 * answers its sentence embedding.
 */
import type { Hex } from "viem";
import type { BaseModel } from "../ml/base/baseModel";
import type { AdapterCache } from "./adapterCache";
import type { MultiAdapterExecutor } from "./executor/multiAdapterExecutor";
import type { RunnerMetrics } from "./metrics";
import { Scheduler } from "./scheduler";

export interface Classification {
  label: string;
  labels: readonly string[];
  scores: number[];
}

/** An adapter without a head: its (L2-normalised) sentence embedding. */
export interface Embedding {
  embedding: number[];
}

export type InferenceAnswer = Classification | Embedding;

export function isEmbedding(answer: InferenceAnswer): answer is Embedding {
  return "embedding" in answer;
}

/** One row of a micro-batch: the base's input for a text, and the slot of its adapter. */
export interface SlotRow<Input> {
  input: Input;
  slot: number;
}

/** What serves the rows of one base model. */
export interface ServingBackend<Input> {
  /** Text → the base's input for one row. */
  prepare(text: string): Input;
  /** Each row's probabilities over its adapter's labels, or its embedding. */
  run(rows: readonly SlotRow<Input>[]): Promise<Float32Array[]>;
}

/** lande: featurized text through the multi-adapter executor. */
export function landeBackend(base: BaseModel, executor: MultiAdapterExecutor): ServingBackend<Float32Array> {
  const featurizer = base.featurizer;
  if (!featurizer) throw new Error(`base model ${base.id} does not read text`);
  return {
    prepare: (text) => featurizer.featurize(text),
    run: (rows) => executor.run(rows.map(({ input, slot }) => ({ features: input, slot }))),
  };
}

export interface InferenceOptions {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
}

export class InferenceService<Input = unknown> {
  private readonly scheduler: Scheduler<SlotRow<Input>, Float32Array>;

  constructor(
    private readonly backend: ServingBackend<Input>,
    private readonly cache: AdapterCache,
    options: InferenceOptions,
    private readonly metrics?: RunnerMetrics,
  ) {
    this.scheduler = new Scheduler<SlotRow<Input>, Float32Array>({
      ...options,
      run: (rows) => {
        metrics?.batchSize.observe(rows.length);
        return backend.run(rows);
      },
    });
  }

  /** Why a model's adapter is refused, if it is. */
  refusal(modelId: bigint): Error | undefined {
    return this.cache.refusal(modelId);
  }

  /**
   * What a model answers, if its adapter is in the cache: its labels, or [] for an embedding.
   * Never loads it: an unpaid request must not make the runner verify adapters or evict them.
   */
  labels(modelId: bigint, adapterHash: Hex): readonly string[] | undefined {
    return this.cache.residentLabels(modelId, adapterHash);
  }

  get queueDepth(): number {
    return this.scheduler.depth;
  }

  /** Throws ModelRefusedError (adapter refused), CacheFullError or QueueFullError (busy). */
  async infer(modelId: bigint, adapterHash: Hex, text: string): Promise<InferenceAnswer> {
    const input = this.backend.prepare(text);
    const before = { ...this.cache.stats };
    const adapter = this.cache.acquire(modelId, adapterHash);
    this.countCacheEvents(before);
    try {
      const output = await this.scheduler.submit(modelId.toString(), { input, slot: adapter.slot });
      if (adapter.labels.length === 0) return { embedding: Array.from(output) };
      const scores = Array.from(output);
      let best = 0;
      for (let c = 1; c < scores.length; c++) if ((scores[c] as number) > (scores[best] as number)) best = c;
      return { label: adapter.labels[best] as string, labels: adapter.labels, scores };
    } finally {
      adapter.release();
      this.metrics?.queueDepth.set(this.scheduler.depth);
    }
  }

  private countCacheEvents(before: AdapterCache["stats"]) {
    if (!this.metrics) return;
    for (const event of ["hits", "loads", "evictions", "refusals"] as const) {
      const delta = this.cache.stats[event] - before[event];
      if (delta > 0) this.metrics.cacheEvents.inc({ event }, delta);
    }
  }
}

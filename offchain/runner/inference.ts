/**
 * Text in, label and scores out, for any registered adapter of one base model: featurizes
 * the text, pins the adapter's arena slot for the request, and runs it in a micro-batch with
 * whatever other requests (of any model) are waiting.
 */
import type { Hex } from "viem";
import type { BaseModel } from "../ml/base/baseModel";
import type { AdapterCache } from "./adapterCache";
import type { MultiAdapterExecutor, Row } from "./executor/multiAdapterExecutor";
import type { RunnerMetrics } from "./metrics";
import { Scheduler } from "./scheduler";

export interface Classification {
  label: string;
  labels: readonly string[];
  scores: number[];
}

export interface InferenceOptions {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
}

export class InferenceService {
  private readonly scheduler: Scheduler<Row, Float32Array>;

  constructor(
    private readonly base: BaseModel,
    executor: MultiAdapterExecutor,
    private readonly cache: AdapterCache,
    options: InferenceOptions,
    private readonly metrics?: RunnerMetrics,
  ) {
    if (!base.featurizer) throw new Error(`base model ${base.id} does not read text`);
    this.scheduler = new Scheduler<Row, Float32Array>({
      ...options,
      run: (rows) => {
        metrics?.batchSize.observe(rows.length);
        return executor.run(rows);
      },
    });
  }

  /** Why a model's adapter is refused, if it is. */
  refusal(modelId: bigint): Error | undefined {
    return this.cache.refusal(modelId);
  }

  get queueDepth(): number {
    return this.scheduler.depth;
  }

  /** Throws ModelRefusedError (adapter refused), CacheFullError or QueueFullError (busy). */
  async classify(modelId: bigint, adapterHash: Hex, text: string): Promise<Classification> {
    const features = this.base.featurizer?.featurize(text) as Float32Array;
    const before = { ...this.cache.stats };
    const adapter = this.cache.acquire(modelId, adapterHash);
    this.countCacheEvents(before);
    try {
      const probabilities = await this.scheduler.submit(modelId.toString(), { features, slot: adapter.slot });
      const scores = Array.from(probabilities);
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

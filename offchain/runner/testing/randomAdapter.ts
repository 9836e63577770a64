/** A LoRA adapter with random factors (and task head) for a base model, for tests and benchmarks. */
import type { LoraAdapter } from "../../ml/adapter/adapter";
import type { BaseModel } from "../../ml/base/baseModel";
import type { Rng } from "../../ml/random";

export interface RandomAdapterShape {
  rank: number;
  /** The head's labels; null for an adapter without a task head. */
  labels: readonly string[] | null;
  /** LoRA scale; 2 / rank unless given. */
  scale?: number;
  /** Standard deviations of the normal draws. */
  factorStd: number;
  headStd: number;
  biasStd: number;
}

export function randomAdapter(rng: Rng, base: BaseModel, shape: RandomAdapterShape): LoraAdapter {
  const { inputs: d, outputs: k } = base.hidden;
  const { rank, labels } = shape;
  const fill = (n: number, std: number) => Float32Array.from({ length: n }, () => rng.normal() * std);
  const adapter: LoraAdapter = {
    target: "hidden",
    rank,
    scale: shape.scale ?? 2 / rank,
    a: fill(d * rank, shape.factorStd),
    b: fill(rank * k, shape.factorStd),
  };
  if (labels !== null) {
    adapter.head = {
      weight: fill(k * labels.length, shape.headStd),
      bias: fill(labels.length, shape.biasStd),
      labels: [...labels],
    };
  }
  return adapter;
}

/**
 * Mini-batch training of a USE-lite LoRA adapter and its head over cached activations: seeded
 * shuffles, Adam, hand-written gradients. Deterministic: the same rows, config and seed give the
 * same parameters bit for bit.
 */
import { Rng } from "../random";
import { Adam } from "../training/adam";
import { initParameters, type UseLiteLoraModel, type UseLiteLoraParameters, viewParameters } from "./model";
import type { TrainableModule } from "./targets";

export interface EpochProgress {
  epoch: number;
  epochs: number;
  loss: number;
  accuracy: number;
}

export type ProgressListener = (progress: EpochProgress) => void;

/** The cosine schedule's factor for epoch `epoch` (1-based) of `epochs`: 1 → 0.1. */
export function cosineRate(epoch: number, epochs: number): number {
  return 0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * (epoch - 1)) / epochs));
}

export interface LoraHyperParameters {
  rank: number;
  alpha: number;
  useRslora: boolean;
}

export interface EpochOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  /** "cosine": the rate decays over these epochs to 10%; "constant": the caller schedules it. */
  schedule?: "cosine" | "constant";
}

/** PEFT's scaling: alpha / r, or alpha / √r with rsLoRA. */
export function scalingOf({ rank, alpha, useRslora }: LoraHyperParameters): number {
  return alpha / (useRslora ? Math.sqrt(rank) : rank);
}

/** Fresh parameters for the targets and a label count, seeded. */
export function initialParameters(
  targets: readonly TrainableModule[],
  classes: number,
  lora: LoraHyperParameters,
  seed: number,
): UseLiteLoraParameters {
  return initParameters({ targets, rank: lora.rank, classes }, scalingOf(lora), Rng.derive(seed, "init"));
}

/** Trains `params` in place on the model's rows (Adam state starts fresh); returns the last epoch's loss. */
export function runEpochs(
  model: UseLiteLoraModel,
  params: UseLiteLoraParameters,
  targets: Int32Array,
  options: EpochOptions,
  rng: Rng,
  onEpoch?: ProgressListener,
): number {
  const adam = new Adam(params.flat.length, options.learningRate, options.weightDecay);
  const grads = viewParameters(params, params.scaling, new Float64Array(params.flat.length));
  const order = Array.from({ length: model.data.count }, (_, i) => i);
  let lastLoss = Number.NaN;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    rng.shuffle(order);
    let lossSum = 0;
    let correct = 0;
    const rate = options.schedule === "constant" ? 1 : cosineRate(epoch, options.epochs);
    for (let start = 0; start < order.length; start += options.batchSize) {
      const batch = order.slice(start, start + options.batchSize);
      const result = model.lossAndGradients(params, targets, batch, grads);
      lossSum += result.loss * batch.length;
      correct += result.correct;
      adam.update(params.flat, grads.flat, rate);
    }
    lastLoss = lossSum / Math.max(order.length, 1);
    const rows = Math.max(order.length, 1);
    onEpoch?.({
      epoch,
      epochs: options.epochs,
      loss: lastLoss,
      accuracy: correct / rows,
    } satisfies EpochProgress);
  }
  return lastLoss;
}

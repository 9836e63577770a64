/**
 * Mini-batch training of a LoRA adapter and its task head on a frozen base: seeded shuffles,
 * Adam, hand-written gradients. Deterministic: the same examples, config and seed give the
 * same parameters bit for bit.
 */
import type { BaseModel } from "../base/baseModel";
import { Rng } from "../random";
import { Adam } from "./adam";
import type { TrainConfig } from "./config";
import type { EncodedExamples } from "./examples";
import { initParameters, type LoraParameters, lossAndGradients, viewParameters } from "./loraModel";

export interface EpochProgress {
  epoch: number;
  epochs: number;
  loss: number;
  accuracy: number;
}

export type ProgressListener = (progress: EpochProgress) => void;

/** Fresh parameters for a base and a label count, seeded. */
export function initialParameters(
  base: BaseModel,
  classes: number,
  config: Pick<TrainConfig, "rank" | "alpha">,
  rng: Rng,
): LoraParameters {
  const shape = { inputDim: base.hidden.inputs, hiddenDim: base.hidden.outputs, rank: config.rank, classes };
  return initParameters(shape, config.alpha / config.rank, rng);
}

/**
 * Trains `params` in place for `epochs` epochs on `data` (Adam state starts fresh).
 * Returns the mean loss of the last epoch.
 */
export interface EpochOptions extends Pick<TrainConfig, "batchSize" | "learningRate" | "weightDecay"> {
  epochs: number;
  /** "cosine": the rate decays over these epochs to 10%; "constant": the caller schedules it. */
  schedule?: "cosine" | "constant";
}

/** The cosine schedule's factor for epoch `epoch` (1-based) of `epochs`: 1 → 0.1. */
export function cosineRate(epoch: number, epochs: number): number {
  return 0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * (epoch - 1)) / epochs));
}

export function runEpochs(
  params: LoraParameters,
  data: EncodedExamples,
  options: EpochOptions,
  rng: Rng,
  onEpoch?: ProgressListener,
): number {
  const adam = new Adam(params.flat.length, options.learningRate, options.weightDecay);
  const grads = viewParameters(params, params.scale, new Float64Array(params.flat.length));
  const order = Array.from({ length: data.count }, (_, i) => i);
  let lastLoss = Number.NaN;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    rng.shuffle(order);
    let lossSum = 0;
    let correct = 0;
    const rate = options.schedule === "constant" ? 1 : cosineRate(epoch, options.epochs);
    for (let start = 0; start < order.length; start += options.batchSize) {
      const batch = order.slice(start, start + options.batchSize);
      const result = lossAndGradients(params, data, batch, grads);
      lossSum += result.loss * batch.length;
      correct += result.correct;
      adam.update(params.flat, grads.flat, rate);
    }
    lastLoss = lossSum / Math.max(order.length, 1);
    onEpoch?.({
      epoch,
      epochs: options.epochs,
      loss: lastLoss,
      accuracy: correct / Math.max(order.length, 1),
    });
  }
  return lastLoss;
}

/** Initializes and trains an adapter on `data` with `config`; returns the float64 parameters. */
export function trainParameters(
  base: BaseModel,
  data: EncodedExamples,
  classes: number,
  config: TrainConfig,
  onEpoch?: ProgressListener,
): LoraParameters {
  const params = initialParameters(base, classes, config, Rng.derive(config.seed, "init"));
  runEpochs(params, data, config, Rng.derive(config.seed, "shuffle"), onEpoch);
  return params;
}

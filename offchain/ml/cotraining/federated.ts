/**
 * Federated training (FedAvg, McMahan et al. 2017) of one USE-lite LoRA adapter + head: each
 * round, every client starts from the global parameters, trains `localEpochs` on its own rows,
 * and the coordinator replaces the global parameters by the average of the local ones weighted
 * by data size. Only parameters travel.
 *
 * Clients are data blocks (see blocks.ts): a contributor's own rows, or rows several
 * contributors hold. A client's local shuffles are seeded by (seed, round, block key) and
 * updates are summed in block-key order, so the result depends only on the data, never on
 * who is named for it.
 */
import { Rng } from "../random";
import { cloneParameters, type UseLiteLoraModel, type UseLiteLoraParameters } from "../useLiteTraining/model";
import type { TrainableModule } from "../useLiteTraining/targets";
import { cosineRate, initialParameters, runEpochs } from "../useLiteTraining/trainer";
import type { CotrainConfig } from "./config";

export interface Client {
  key: string;
  /** The client's rows (their cached activations) and their class indices. */
  model: UseLiteLoraModel;
  targets: Int32Array;
}

/** FedAvg over the clients; with no clients, the untrained initial parameters. */
export function federatedTrain(
  clients: readonly Client[],
  modules: readonly TrainableModule[],
  classes: number,
  config: CotrainConfig,
): UseLiteLoraParameters {
  const global = initialParameters(modules, classes, config, config.seed);
  const ordered = [...clients].filter((c) => c.targets.length > 0).sort((a, b) => (a.key < b.key ? -1 : 1));
  if (ordered.length === 0) return global;
  const total = ordered.reduce((sum, client) => sum + client.targets.length, 0);
  const sum = new Float64Array(global.flat.length);
  for (let round = 1; round <= config.rounds; round++) {
    sum.fill(0);
    // The learning rate follows a cosine schedule over rounds, constant within a round.
    const learningRate = config.learningRate * cosineRate(round, config.rounds);
    const options = { ...config, learningRate, epochs: config.localEpochs, schedule: "constant" as const };
    for (const client of ordered) {
      const local = cloneParameters(global);
      runEpochs(
        client.model,
        local,
        client.targets,
        options,
        Rng.derive(config.seed, "local", round, client.key),
      );
      const weight = client.targets.length / total;
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + weight * (local.flat[i] as number);
    }
    global.flat.set(sum);
  }
  return global;
}

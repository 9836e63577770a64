/**
 * `openlora cotrain` end to end: contributors' shards → federated adapter + measured
 * contributions → proposed share units in the manifest.
 *
 * The contributors' rows are pooled by content into data blocks (blocks.ts): each
 * contributor's own rows, plus blocks of rows several contributors submitted. The utility of
 * a coalition of blocks is the validation accuracy of the adapter FedAvg-trained on those
 * blocks alone (the empty coalition: the untrained adapter). Block contributions are Shapley
 * values of that utility (or leave-one-out); a contributor's contribution is the sum of its
 * blocks' values, shared blocks split equally; share units are proportional to the positive
 * contributions.
 */

import type { ContributorRecord, DatasetRecord } from "../adapter/manifest";
import { useLiteBase } from "../base/useLite/useLiteBase";
import { DatasetError, TrainingConfigError } from "../errors";
import { savePeftAdapter } from "../peft/adapterDirectory";
import type { PeftManifest } from "../peft/manifest";
import { type Dataset, labelsOf, readDataset } from "../training/dataset";
import {
  computeActivations,
  frozenWeights,
  selectActivations,
  tokenize,
} from "../useLiteTraining/activations";
import { toPeftAdapter } from "../useLiteTraining/adapter";
import { scoreProbabilities, servedProbabilities } from "../useLiteTraining/evaluate";
import { roundToFloat32, UseLiteLoraModel, type UseLiteLoraParameters } from "../useLiteTraining/model";
import { trainTargets } from "../useLiteTraining/targets";
import { contributorValues, dataBlocks, rowKey } from "./blocks";
import { type CotrainConfig, type CotrainConfigInput, parseCotrainConfig } from "./config";
import { cachedUtility, exactShapley, leaveOneOut, monteCarloShapley, proposeUnits } from "./contribution";
import { federatedTrain } from "./federated";

export interface ContributorInput {
  /** A name or an 0x address (then also recorded as the contributor's address). */
  id: string;
  file: string;
}

export interface CoalitionProgress {
  /** Coalitions trained so far. */
  trained: number;
  members: string[];
  accuracy: number;
}

export interface CotrainRunOptions {
  contributors: ContributorInput[];
  /** The coordinator's validation set: contributions are measured on it. */
  validation: string;
  /** Held-out test set for the manifest's metrics (default: the validation set). */
  test?: string;
  out: string;
  name?: string;
  config: CotrainConfigInput;
  onCoalition?: (progress: CoalitionProgress) => void;
}

const ID_PATTERN = /^[\w.:@-]{1,100}$/;
const ADDRESS_PATTERN = /^0x[0-9a-fA-F]{40}$/;

function checkContributors(contributors: readonly ContributorInput[]): void {
  if (contributors.length < 1) throw new TrainingConfigError("co-training needs at least one contributor");
  if (contributors.length > 20) throw new TrainingConfigError("co-training supports at most 20 contributors");
  const ids = new Set<string>();
  for (const { id } of contributors) {
    if (!ID_PATTERN.test(id)) throw new TrainingConfigError(`bad contributor id "${id}"`, { id });
    if (ids.has(id)) throw new TrainingConfigError(`contributor "${id}" given twice`, { id });
    ids.add(id);
  }
}

export interface Contribution {
  method: string;
  values: number[];
  units: number[];
  /** Distinct data blocks (players of the contribution game; = contributors without copies). */
  blocks: number;
  /** Coalitions trained to measure them. */
  coalitions: number;
}

/** Everything a co-training run computes, before files are written. */
export interface CotrainResult {
  labels: string[];
  params: UseLiteLoraParameters;
  contribution: Contribution;
  metrics: PeftManifest["metrics"];
}

function methodName(config: CotrainConfig, n: number): string {
  if (config.method === "loo") return "leave-one-out";
  return n <= config.exactLimit ? "shapley-exact" : "shapley-monte-carlo";
}

/** Co-trains on in-memory data sets (shards in contributor order). */
export async function cotrain(
  contributors: ReadonlyArray<{ id: string; dataset: Dataset }>,
  validation: Dataset,
  test: Dataset | undefined,
  config: CotrainConfig,
  onCoalition?: (progress: CoalitionProgress) => void,
): Promise<CotrainResult> {
  const pooledRows = contributors.flatMap((c) => c.dataset.rows);
  const labels = labelsOf(pooledRows);
  if (labels.length < 2) throw new DatasetError("contributors' data needs at least two labels", { labels });
  for (const set of [validation, test]) {
    const unknown = set ? labelsOf(set.rows).filter((label) => !labels.includes(label)) : [];
    if (unknown.length > 0) throw new DatasetError(`${set?.name} has labels no contributor has`, { unknown });
  }
  const classesOf = (rows: Dataset["rows"]) => Int32Array.from(rows, (row) => labels.indexOf(row.label));
  const modules = trainTargets(config.targets);
  const base = useLiteBase();
  // The base runs once over the pooled rows and the validation rows; every coalition reuses it.
  const readRows = (rows: Dataset["rows"]) =>
    computeActivations(
      tokenize(
        base,
        rows.map((row) => row.text),
        config.maxTokens,
      ),
      modules,
    );
  const pooled = await readRows(pooledRows);
  const pooledClasses = classesOf(pooledRows);
  const validationModel = new UseLiteLoraModel(await readRows(validation.rows), frozenWeights());
  const validationClasses = classesOf(validation.rows);
  const blocks = dataBlocks(contributors.map(({ dataset }) => dataset.rows.map(rowKey)));
  const clients = blocks.map((block) => ({
    key: block.key,
    model: new UseLiteLoraModel(selectActivations(pooled, block.indices), frozenWeights()),
    targets: Int32Array.from(block.indices, (i) => pooledClasses[i] as number),
  }));
  const n = blocks.length;
  const trained = new Map<number, UseLiteLoraParameters>();
  const inCoalition = (mask: number) => clients.filter((_, b) => mask & (1 << b));
  const holdersOf = (mask: number) => [
    ...new Set(
      blocks.flatMap((block, b) => (mask & (1 << b) ? block.holders.map((h) => contributors[h]?.id) : [])),
    ),
  ];
  const accuracyOn = (params: UseLiteLoraParameters) =>
    scoreProbabilities(validationModel.predict(params), validationClasses, labels.length).accuracy;
  const utility = cachedUtility((mask) => {
    const params = federatedTrain(inCoalition(mask), modules, labels.length, config);
    trained.set(mask, params);
    const accuracy = accuracyOn(params);
    onCoalition?.({ trained: trained.size, members: holdersOf(mask) as string[], accuracy });
    return accuracy;
  });
  const method = methodName(config, n);
  const blockValues =
    method === "leave-one-out"
      ? leaveOneOut(n, utility)
      : method === "shapley-exact"
        ? exactShapley(n, utility)
        : monteCarloShapley(n, utility, config.permutations, config.seed);
  const values = contributorValues(blocks, blockValues, contributors.length);
  const all = (1 << n) - 1;
  utility(all);
  const params = trained.get(all) as UseLiteLoraParameters;
  const stored = roundToFloat32(params);
  const trainIndices = blocks.flatMap((block) => block.indices);
  const trainModel = new UseLiteLoraModel(selectActivations(pooled, trainIndices), frozenWeights());
  const adapter = toPeftAdapter(stored, labels, config);
  const heldOut = test ?? validation;
  const heldOutProbabilities = await servedProbabilities(
    base,
    adapter,
    heldOut.rows.map((row) => row.text),
  );
  return {
    labels,
    params,
    contribution: {
      method,
      values,
      units: proposeUnits(values, config.totalUnits),
      blocks: n,
      coalitions: utility.evaluations(),
    },
    metrics: {
      train: scoreProbabilities(
        trainModel.predict(stored),
        Int32Array.from(trainIndices, (i) => pooledClasses[i] as number),
        labels.length,
      ),
      heldOut: scoreProbabilities(heldOutProbabilities, classesOf(heldOut.rows), labels.length),
      validation: scoreProbabilities(validationModel.predict(stored), validationClasses, labels.length),
    },
  };
}

export async function cotrainRun(options: CotrainRunOptions): Promise<{
  manifest: PeftManifest;
  contribution: Contribution;
}> {
  const config = parseCotrainConfig(options.config);
  checkContributors(options.contributors);
  const contributors = options.contributors.map(({ id, file }) => ({ id, dataset: readDataset(file) }));
  const validation = readDataset(options.validation);
  const test = options.test ? readDataset(options.test) : undefined;
  const result = await cotrain(contributors, validation, test, config, options.onCoalition);
  const datasets: DatasetRecord[] = contributors.map(({ id, dataset }) => ({
    name: dataset.name,
    hash: dataset.hash,
    rows: dataset.rows.length,
    role: "shard",
    contributor: id,
  }));
  datasets.push({
    name: validation.name,
    hash: validation.hash,
    rows: validation.rows.length,
    role: "validation",
  });
  if (test) datasets.push({ name: test.name, hash: test.hash, rows: test.rows.length, role: "test" });
  const records: ContributorRecord[] = contributors.map(({ id, dataset }, i) => ({
    id,
    ...(ADDRESS_PATTERN.test(id) ? { address: id } : {}),
    rows: dataset.rows.length,
    contribution: result.contribution.values[i] as number,
    units: result.contribution.units[i] as number,
  }));
  const stored = roundToFloat32(result.params);
  const manifest = savePeftAdapter(options.out, toPeftAdapter(stored, result.labels, config), {
    name: options.name ?? `cotrain-${contributors.map((c) => c.id).join("+")}`,
    seed: config.seed,
    datasets,
    contributors: records,
    training: {
      mode: "federated",
      rank: config.rank,
      alpha: config.alpha,
      epochs: config.rounds * config.localEpochs,
      learningRate: config.learningRate,
      batchSize: config.batchSize,
      weightDecay: config.weightDecay,
      holdout: 0,
      seed: config.seed,
      rounds: config.rounds,
      localEpochs: config.localEpochs,
      contributionMethod: result.contribution.method,
      ...(result.contribution.method === "shapley-monte-carlo" ? { permutations: config.permutations } : {}),
      totalUnits: config.totalUnits,
      maxTokens: config.maxTokens,
    },
    metrics: result.metrics,
  });
  return { manifest, contribution: result.contribution };
}

/**
 * `openlora cotrain`: federated co-training of one adapter by several contributors, each with
 * its own data shard; measures each contributor's contribution on a validation set and
 * writes the proposed share units into the manifest.
 */
import { type Command, InvalidArgumentError } from "commander";
import type { ContributorInput } from "../../ml/cotraining/cotrainRun";
import {
  adapterSummary,
  asCliError,
  checkTrainTarget,
  formatEvaluation,
  loraSummary,
  toNumber,
  withLoraOptions,
} from "./train";

function contributor(value: string, previous: ContributorInput[] = []): ContributorInput[] {
  const separator = value.indexOf("=");
  if (separator <= 0 || separator === value.length - 1) {
    throw new InvalidArgumentError(`expected ID=FILE, got "${value}"`);
  }
  return [...previous, { id: value.slice(0, separator), file: value.slice(separator + 1) }];
}

interface CotrainOptions {
  contributor: ContributorInput[];
  validation: string;
  test?: string;
  out: string;
  name?: string;
  rounds?: number;
  localEpochs?: number;
  rank?: number;
  alpha?: number;
  lr?: number;
  batch?: number;
  weightDecay?: number;
  seed?: number;
  method?: string;
  permutations?: number;
  units?: number;
  targets?: string[];
  maxTokens?: number;
  rslora?: boolean;
}

export function registerCotrain(program: Command): void {
  withLoraOptions(
    program
      .command("cotrain")
      .description("co-train one adapter federated across contributors and propose their share units")
      .requiredOption(
        "--contributor <id=file>",
        "a contributor (name or 0x address) and its data shard (.csv/.jsonl); repeat for each",
        contributor,
      )
      .requiredOption(
        "--validation <file>",
        "the coordinator's validation set: contributions are measured on it",
      )
      .requiredOption(
        "--out <dir>",
        "directory for adapter_config.json, adapter_model.safetensors and manifest.json",
      )
      .option("--test <file>", "held-out test set for the manifest's metrics (default: the validation set)")
      .option("--name <name>", "adapter name in the manifest"),
  )
    .option("--rounds <n>", "federated rounds (default 10)", toNumber)
    .option("--local-epochs <n>", "local epochs per contributor per round (default 2)", toNumber)
    .option("--lr <x>", "Adam learning rate (default 0.003, cosine-decayed over rounds)", toNumber)
    .option("--batch <n>", "mini-batch size (default 32)", toNumber)
    .option("--weight-decay <x>", "decoupled weight decay (default 0)", toNumber)
    .option("--seed <n>", "random seed (default 0)", toNumber)
    .option("--method <name>", "contribution measure: shapley (default) or loo (leave-one-out)")
    .option("--permutations <n>", "Monte-Carlo Shapley permutations beyond 8 blocks (default 64)", toNumber)
    .option("--units <n>", "total share units to propose (default 10000)", toNumber)
    .action(async (options: CotrainOptions, command: Command) => {
      checkTrainTarget(options);
      // Loaded here, not at startup: onnxruntime and the training code are for this command only.
      const { cotrainRun } = await import("../../ml/cotraining/cotrainRun");
      const json = Boolean(command.optsWithGlobals().json);
      const started = performance.now();
      let result: Awaited<ReturnType<typeof cotrainRun>>;
      try {
        result = await cotrainRun({
          contributors: options.contributor,
          validation: options.validation,
          out: options.out,
          ...(options.test ? { test: options.test } : {}),
          ...(options.name ? { name: options.name } : {}),
          config: {
            rounds: options.rounds,
            localEpochs: options.localEpochs,
            rank: options.rank,
            alpha: options.alpha,
            learningRate: options.lr,
            batchSize: options.batch,
            weightDecay: options.weightDecay,
            seed: options.seed,
            method: options.method as "shapley" | "loo" | undefined,
            permutations: options.permutations,
            totalUnits: options.units,
            targets: options.targets as never,
            maxTokens: options.maxTokens,
            useRslora: options.rslora,
          },
          onCoalition: ({ trained, members, accuracy }) => {
            const who = members.length > 0 ? members.join(", ") : "(no data)";
            process.stderr.write(
              `cotrain coalition ${trained}: ${who}  validation accuracy ${accuracy.toFixed(4)}\n`,
            );
          },
        });
      } catch (error) {
        throw asCliError(error);
      }
      const seconds = (performance.now() - started) / 1000;
      const { manifest, contribution } = result;
      const summary = adapterSummary(options.out, manifest, seconds);
      if (json) {
        console.log(
          JSON.stringify({
            ...summary,
            contributionMethod: contribution.method,
            contributors: manifest.contributors,
          }),
        );
        return;
      }
      const t = manifest.training;
      console.log(
        `co-trained adapter "${manifest.name}" (${loraSummary(manifest)}, ${t?.rounds} rounds × ${t?.localEpochs} local epochs, seed ${manifest.seed}) in ${seconds.toFixed(1)} s`,
      );
      console.log(`  ${formatEvaluation("held-out", manifest.metrics.heldOut)}`);
      console.log(`  contributions (${contribution.method}, ${contribution.coalitions} coalitions trained):`);
      for (const c of manifest.contributors) {
        console.log(
          `    ${c.id.padEnd(16)} rows ${String(c.rows).padStart(6)}  contribution ${c.contribution.toFixed(4).padStart(8)}  units ${c.units}`,
        );
      }
      console.log(`  adapter  ${summary.adapter.path}  ${manifest.adapter.hash}`);
      console.log(`  manifest ${summary.manifest}`);
    });
}

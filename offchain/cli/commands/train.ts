/**
 * `openlora train`: fine-tunes a LoRA adapter (and a task head) on the frozen USE-lite base from
 * a local labelled data set, and writes it as PEFT does (`adapter_config.json`,
 * `adapter_model.safetensors`) with our `manifest.json`.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { Evaluation } from "../../ml/adapter/manifest";
import { ModelError } from "../../ml/errors";
import { ADAPTER_MODEL_FILE } from "../../ml/peft/adapterModel";
import { MANIFEST_FILE, type PeftManifest } from "../../ml/peft/manifest";
import { DEFAULT_TRAIN_TARGETS, TRAINABLE_MODULES } from "../../ml/useLiteTraining/targets";
import type { EpochProgress } from "../../ml/useLiteTraining/trainer";
import { runnerConfigSchema } from "../../runner/config";
import { CliError, ExitCode } from "../errors";

/** The highest LoRA rank a runner serves unless told otherwise (its adapter arena's cache.maxRank). */
export const SERVED_MAX_RANK: number = runnerConfigSchema.shape.cache.parse({}).maxRank;

/**
 * Refuses before any training what would fail after it: an --out that is a file, and a rank no
 * runner serves by default (a model registered with it stays on-chain for good, unservable).
 */
export function checkTrainTarget(options: { out: string; rank?: number }): void {
  const { out, rank } = options;
  if (existsSync(out) && !statSync(out).isDirectory()) {
    throw new CliError(
      `--out ${out} is a file, not a directory: name a directory for the adapter's files`,
      ExitCode.usage,
    );
  }
  if (rank !== undefined && rank > SERVED_MAX_RANK) {
    throw new CliError(
      `--rank ${rank} is above rank ${SERVED_MAX_RANK}, the highest a runner serves (its cache.maxRank): train with --rank ${SERVED_MAX_RANK} or less`,
      ExitCode.usage,
      { rank, maxRank: SERVED_MAX_RANK },
    );
  }
}

/** ML errors are problems with the user's input (data, options, files): exit code 2. */
export function asCliError(error: unknown): unknown {
  if (error instanceof ModelError) return new CliError(error.message, ExitCode.usage, error.details);
  return error;
}

/** Commander value parser: the raw string becomes a number, validated later by zod. */
export function toNumber(value: string): number {
  return value.trim() === "" ? Number.NaN : Number(value);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Commander value parser for --targets: a comma-separated list of module names. */
export function moduleList(value: string): string[] {
  return value
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
}

export const TARGETS_HELP = `LoRA target modules, comma-separated (default ${DEFAULT_TRAIN_TARGETS.join(",")}; trainable: ${TRAINABLE_MODULES.join(", ")})`;

/** One progress line per epoch on stderr (rewritten in place on a terminal). */
export function progressPrinter(label: string): (progress: EpochProgress) => void {
  const tty = process.stderr.isTTY;
  return ({ epoch, epochs, loss, accuracy }) => {
    const line = `${label} epoch ${epoch}/${epochs}  loss ${loss.toFixed(4)}  train accuracy ${accuracy.toFixed(4)}`;
    if (tty) process.stderr.write(`\r${line}${epoch === epochs ? "\n" : ""}`);
    else process.stderr.write(`${line}\n`);
  };
}

/** "LoRA r 8, alpha 16 on encoder.layer.1.ffn.out, pooler.dense". */
export function loraSummary(manifest: PeftManifest): string {
  const { r, alpha, useRslora, targetModules } = manifest.lora;
  return `LoRA r ${r}, alpha ${alpha}${useRslora ? " (rsLoRA)" : ""} on ${targetModules.join(", ")}`;
}

/** The fields `--json` prints for any trained adapter: where it is, what it is, how it scored. */
export function adapterSummary(out: string, manifest: PeftManifest, seconds: number) {
  return {
    name: manifest.name,
    adapter: {
      path: join(out, ADAPTER_MODEL_FILE),
      hash: manifest.adapter.hash,
      bytes: manifest.adapter.bytes,
    },
    lora: manifest.lora,
    manifest: join(out, MANIFEST_FILE),
    baseModel: manifest.baseModel,
    metrics: manifest.metrics,
    seconds,
  };
}

export function formatEvaluation(name: string, e: Evaluation | undefined): string {
  if (!e) return `${name} (not measured)`;
  return `${name} accuracy ${e.accuracy.toFixed(4)} (${e.rows} rows), macro-F1 ${e.macroF1.toFixed(4)}, loss ${e.loss.toFixed(4)}`;
}

interface TrainOptions {
  data: string[];
  test?: string;
  out: string;
  name?: string;
  rank?: number;
  alpha?: number;
  epochs?: number;
  lr?: number;
  batch?: number;
  weightDecay?: number;
  holdout?: number;
  seed?: number;
  targets?: string[];
  maxTokens?: number;
  rslora?: boolean;
}

/** The LoRA options `train` and `cotrain` share. */
export function withLoraOptions(command: Command): Command {
  return command
    .option("--rank <n>", `LoRA rank r (default 8, at most ${SERVED_MAX_RANK}: what runners serve)`, toNumber)
    .option("--alpha <x>", "LoRA alpha; scale = alpha / rank (default 16)", toNumber)
    .option("--rslora", "rsLoRA: scale = alpha / sqrt(rank)")
    .option("--targets <modules>", TARGETS_HELP, moduleList)
    .option(
      "--max-tokens <n>",
      "tokens of each text the trainer reads (default 128, the base's limit)",
      toNumber,
    );
}

export function registerTrain(program: Command): void {
  withLoraOptions(
    program
      .command("train")
      .description(
        "fine-tune a LoRA adapter and task head on the frozen USE-lite transformer from a labelled data set",
      )
      .requiredOption(
        "--data <file>",
        "training data, .csv (text,label columns) or .jsonl; repeatable",
        collect,
      )
      .requiredOption(
        "--out <dir>",
        "directory for adapter_config.json, adapter_model.safetensors and manifest.json",
      )
      .option("--test <file>", "held-out test data (default: hold out --holdout of the data)")
      .option("--name <name>", "adapter name in the manifest (default: the data file names)"),
  )
    .option("--epochs <n>", "training epochs (default 40)", toNumber)
    .option("--lr <x>", "Adam learning rate (default 0.003, cosine-decayed)", toNumber)
    .option("--batch <n>", "mini-batch size (default 32)", toNumber)
    .option("--weight-decay <x>", "decoupled weight decay (default 0)", toNumber)
    .option("--holdout <fraction>", "fraction of each label held out when no --test (default 0.2)", toNumber)
    .option("--seed <n>", "random seed: same seed, same adapter bytes (default 0)", toNumber)
    .action(async (options: TrainOptions, command: Command) => {
      checkTrainTarget(options);
      // Loaded here, not at startup: onnxruntime and the training code are for this command only.
      const { useLiteTrainRun } = await import("../../ml/useLiteTraining/trainRun");
      const json = Boolean(command.optsWithGlobals().json);
      const started = performance.now();
      let result: Awaited<ReturnType<typeof useLiteTrainRun>>;
      try {
        result = await useLiteTrainRun({
          data: options.data,
          out: options.out,
          ...(options.test ? { test: options.test } : {}),
          ...(options.name ? { name: options.name } : {}),
          config: {
            rank: options.rank,
            alpha: options.alpha,
            epochs: options.epochs,
            learningRate: options.lr,
            batchSize: options.batch,
            weightDecay: options.weightDecay,
            holdout: options.holdout,
            seed: options.seed,
            targets: options.targets as never,
            maxTokens: options.maxTokens,
            useRslora: options.rslora,
          },
          onEpoch: progressPrinter("train"),
        });
      } catch (error) {
        throw asCliError(error);
      }
      const seconds = (performance.now() - started) / 1000;
      const { manifest } = result;
      const summary = adapterSummary(options.out, manifest, seconds);
      if (json) {
        console.log(JSON.stringify({ ...summary, labels: manifest.labels }));
        return;
      }
      console.log(
        `trained adapter "${manifest.name}" (${loraSummary(manifest)}, ${manifest.training?.epochs} epochs, seed ${manifest.seed}) in ${seconds.toFixed(1)} s`,
      );
      console.log(`  ${formatEvaluation("held-out", manifest.metrics.heldOut)}`);
      console.log(`  ${formatEvaluation("train   ", manifest.metrics.train)}`);
      console.log(`  labels   ${manifest.labels.join(", ")}`);
      console.log(`  adapter  ${summary.adapter.path}  ${manifest.adapter.hash}`);
      console.log(`  manifest ${summary.manifest}`);
      console.log(`  base     ${manifest.baseModel.id}  ${manifest.baseModel.hash}`);
    });
}

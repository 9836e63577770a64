/**
 * `openlora train`: fine-tunes a LoRA adapter (and a task head) on the frozen base model from
 * a local labelled data set, and writes `adapter.safetensors` + `manifest.json`.
 */
import { join } from "node:path";
import type { Command } from "commander";
import { ADAPTER_FILE, MANIFEST_FILE } from "../../ml/adapter/adapterFile";
import type { AdapterManifest, Evaluation } from "../../ml/adapter/manifest";
import { ModelError } from "../../ml/errors";
import type { EpochProgress } from "../../ml/training/trainer";
import { CliError, ExitCode } from "../errors";

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

/** One progress line per epoch on stderr (rewritten in place on a terminal). */
export function progressPrinter(label: string): (progress: EpochProgress) => void {
  const tty = process.stderr.isTTY;
  return ({ epoch, epochs, loss, accuracy }) => {
    const line = `${label} epoch ${epoch}/${epochs}  loss ${loss.toFixed(4)}  train accuracy ${accuracy.toFixed(4)}`;
    if (tty) process.stderr.write(`\r${line}${epoch === epochs ? "\n" : ""}`);
    else process.stderr.write(`${line}\n`);
  };
}

/** The fields `--json` prints for any trained adapter: where it is, what it is, how it scored. */
export function adapterSummary(out: string, manifest: AdapterManifest, seconds: number) {
  return {
    name: manifest.name,
    adapter: { path: join(out, ADAPTER_FILE), hash: manifest.adapter.hash, bytes: manifest.adapter.bytes },
    manifest: join(out, MANIFEST_FILE),
    baseModel: manifest.baseModel,
    metrics: manifest.metrics,
    seconds,
  };
}

export function formatEvaluation(name: string, e: Evaluation): string {
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
}

export function registerTrain(program: Command): void {
  program
    .command("train")
    .description("fine-tune a LoRA adapter and task head on the frozen base model from a labelled data set")
    .requiredOption(
      "--data <file>",
      "training data, .csv (text,label columns) or .jsonl; repeatable",
      collect,
    )
    .requiredOption("--out <dir>", "directory for adapter.safetensors and manifest.json")
    .option("--test <file>", "held-out test data (default: hold out --holdout of the data)")
    .option("--name <name>", "adapter name in the manifest (default: the data file names)")
    .option("--rank <n>", "LoRA rank r (default 8)", toNumber)
    .option("--alpha <x>", "LoRA alpha; scale = alpha / rank (default 16)", toNumber)
    .option("--epochs <n>", "training epochs (default 40)", toNumber)
    .option("--lr <x>", "Adam learning rate (default 0.01, cosine-decayed)", toNumber)
    .option("--batch <n>", "mini-batch size (default 32)", toNumber)
    .option("--weight-decay <x>", "decoupled weight decay (default 0)", toNumber)
    .option("--holdout <fraction>", "fraction of each label held out when no --test (default 0.2)", toNumber)
    .option("--seed <n>", "random seed: same seed, same adapter bytes (default 0)", toNumber)
    .action(async (options: TrainOptions, command: Command) => {
      // Loaded here, not at startup: onnxruntime and the training code are for this command only.
      const { trainRun } = await import("../../ml/training/trainRun");
      const json = Boolean(command.optsWithGlobals().json);
      const started = performance.now();
      let result: ReturnType<typeof trainRun>;
      try {
        result = trainRun({
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
      const { training: t } = manifest;
      console.log(
        `trained adapter "${manifest.name}" (rank ${t.rank}, ${t.epochs} epochs, seed ${t.seed}) in ${seconds.toFixed(1)} s`,
      );
      console.log(`  ${formatEvaluation("held-out", manifest.metrics.heldOut)}`);
      console.log(`  ${formatEvaluation("train   ", manifest.metrics.train)}`);
      console.log(`  labels   ${manifest.labels.join(", ")}`);
      console.log(`  adapter  ${summary.adapter.path}  ${manifest.adapter.hash}`);
      console.log(`  manifest ${summary.manifest}`);
      console.log(`  base     ${manifest.baseModel.id}  ${manifest.baseModel.hash}`);
    });
}

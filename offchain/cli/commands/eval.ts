/**
 * `openlora eval --adapter DIR --data FILE`: scores a PEFT adapter (a USE-lite classifier) on any
 * labelled CSV/JSONL, through the runner's serving executor, so that a creator sees before
 * registering what a runner will answer: rows, accuracy, macro-F1 and the confusion matrix.
 */
import type { Command } from "commander";
import { ModelError } from "../../ml/errors";
import type { AdapterScore } from "../../runner/adapterEvaluation";
import { CliError, ExitCode } from "../errors";
import { toJson } from "./chainOptions";

interface EvalOptions {
  adapter: string;
  data: string;
}

const CORNER = "true \\ predicted";

/** The confusion matrix as aligned text: rows are the true labels, columns the predicted ones. */
export function confusionLines(labels: readonly string[], confusion: readonly number[][]): string[] {
  const first = Math.max(CORNER.length, ...labels.map((label) => label.length));
  const width = Math.max(
    ...labels.map((label) => label.length),
    ...confusion.flat().map((n) => String(n).length),
  );
  const cell = (text: string) => text.padStart(width);
  return [
    [CORNER.padEnd(first), ...labels.map(cell)].join("  "),
    ...labels.map((label, i) =>
      [label.padEnd(first), ...(confusion[i] ?? []).map((count) => cell(String(count)))].join("  "),
    ),
  ];
}

function humanLines(score: AdapterScore, options: EvalOptions): string[] {
  return [
    `adapter ${options.adapter}  ${score.adapterHash}`,
    `data    ${options.data}`,
    `rows      ${score.rows}`,
    `accuracy  ${score.accuracy.toFixed(4)}`,
    `macro-F1  ${score.macroF1.toFixed(4)}`,
    "confusion (rows: true label, columns: predicted)",
    ...confusionLines(score.labels, score.confusion).map((line) => `  ${line}`),
  ];
}

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description("score a PEFT adapter on a labelled data set, on the path a runner serves it")
    .requiredOption(
      "--adapter <dir>",
      "adapter directory (adapter_config.json, adapter_model.safetensors, manifest.json)",
    )
    .requiredOption("--data <file>", "labelled data, .csv (text,label columns) or .jsonl, optionally .gz")
    .action(async (options: EvalOptions, command: Command) => {
      // Loaded here, not at startup: onnxruntime and the model are for this command only.
      const [{ readDataset }, { evaluatePeftAdapter }] = await Promise.all([
        import("../../ml/training/dataset"),
        import("../../runner/adapterEvaluation"),
      ]);
      let score: AdapterScore;
      try {
        score = await evaluatePeftAdapter(options.adapter, readDataset(options.data).rows);
      } catch (error) {
        // The adapter or the data is not what eval can score: the user's input (exit code 2).
        if (error instanceof ModelError) throw new CliError(error.message, ExitCode.usage, error.details);
        throw error;
      }
      if (command.optsWithGlobals().json) {
        const { adapterHash, ...rest } = score;
        console.log(
          toJson({ adapter: { path: options.adapter, hash: adapterHash }, data: options.data, ...rest }),
        );
        return;
      }
      for (const line of humanLines(score, options)) console.log(line);
    });
}

// `openlora`: one command per module in ./commands, each registering itself on the program.
import { Command, CommanderError } from "commander";
import { registerCotrain } from "./commands/cotrain";
import { registerServe } from "./commands/serve";
import { registerTrain } from "./commands/train";
import { CliError, ExitCode } from "./errors";

const program = new Command("openlora")
  .description("Deploy fine-tuned LoRA adapters with on-chain attribution and payment")
  .option("--json", "machine-readable output (one JSON object on stdout)")
  .showHelpAfterError()
  .exitOverride();

registerTrain(program);
registerCotrain(program);
registerServe(program);

function report(error: unknown): ExitCode {
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  const json = Boolean(program.opts().json);
  if (error instanceof CliError) {
    if (json) console.log(JSON.stringify({ error: error.message, details: error.details }));
    else console.error(`openlora: ${error.message}`);
    return error.exitCode;
  }
  console.error(
    `openlora: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : error}`,
  );
  return ExitCode.failure;
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}

// `openlora`: one command per module in ./commands, each registering itself on the program.
import { Command, CommanderError } from "commander";
import { registerCall, registerSettle } from "./commands/call";
import { registerChannel } from "./commands/channel";
import { registerCotrain } from "./commands/cotrain";
import { registerDeploy, registerDevnet } from "./commands/devnet";
import { registerEval } from "./commands/eval";
import { registerConsent, registerRegister } from "./commands/register";
import { registerRunnerCommands } from "./commands/runner";
import { registerServe } from "./commands/serve";
import { registerStatus } from "./commands/status";
import { registerTrain } from "./commands/train";
import { registerClaim, registerVault } from "./commands/vault";
import { registerVerifyReceipt } from "./commands/verifyReceipt";
import { CliError, ExitCode } from "./errors";

// `openlora … | head`: the reader went away; what is left to print has no one to read it.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const program = new Command("openlora")
  .description("Deploy fine-tuned LoRA adapters with on-chain attribution and payment")
  .option("--json", "machine-readable output (one JSON object on stdout)")
  .showHelpAfterError()
  .exitOverride();

registerDevnet(program);
registerDeploy(program);
registerTrain(program);
registerCotrain(program);
registerEval(program);
registerConsent(program);
registerRegister(program);
registerRunnerCommands(program);
registerChannel(program);
registerCall(program);
registerSettle(program);
registerVault(program);
registerClaim(program);
registerStatus(program);
registerVerifyReceipt(program);
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
  // Exit now: a command that failed halfway (a runner that could not listen) may hold timers.
  process.exit(report(error));
}

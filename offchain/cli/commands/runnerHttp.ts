/**
 * Every HTTP call the CLI makes to a runner goes through `reachRunner`: a runner that accepts and
 * never answers is given up on after `--timeout-ms`, and an unreachable or silent runner is named
 * with exit code 3 rather than left to hang or leave a stack trace.
 */
import type { Command } from "commander";
import { CliError, ExitCode } from "../errors";

export const DEFAULT_RUNNER_TIMEOUT_MS = 30_000;

/** Adds `--timeout-ms` to a command that calls a runner. */
export function withRunnerTimeout(command: Command): Command {
  return command.option(
    "--timeout-ms <ms>",
    `give up on a runner that has not answered within this many milliseconds (default ${DEFAULT_RUNNER_TIMEOUT_MS})`,
    (value: string) => {
      const ms = Number(value);
      if (!Number.isInteger(ms) || ms < 1)
        throw new CliError(`--timeout-ms must be a positive whole number, got "${value}"`, ExitCode.usage);
      return ms;
    },
    DEFAULT_RUNNER_TIMEOUT_MS,
  );
}

/**
 * Runs one request to the runner at `url` with an abort signal that fires after `timeoutMs`; the
 * request must read its whole answer inside `run` so that a body that never ends times out too.
 */
export async function reachRunner<T>(
  url: string,
  timeoutMs: number,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    return await run(signal);
  } catch (error) {
    if (signal.aborted || (error as Error)?.name === "TimeoutError") {
      throw new CliError(
        `the runner at ${url} did not answer within ${timeoutMs} ms (raise --timeout-ms, or check the runner)`,
        ExitCode.unreachable,
        { url, timeoutMs },
      );
    }
    if (error instanceof TypeError && /fetch failed/.test(error.message)) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      throw new CliError(
        `cannot reach the runner at ${url}${code ? ` (${code})` : ""}`,
        ExitCode.unreachable,
        {
          url,
        },
      );
    }
    throw error;
  }
}

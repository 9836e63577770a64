/**
 * Exit codes of the `openlora` CLI. Scripts may rely on them:
 * 0 success; 1 unexpected failure; 2 bad usage or invalid input; 3 the chain or a remote
 * endpoint could not be reached; 4 an on-chain call reverted or was refused.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  unreachable: 3,
  rejected: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one clear line (plus details with --json) and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failure,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "CliError";
  }
}

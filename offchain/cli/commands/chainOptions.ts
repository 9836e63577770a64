/**
 * What every on-chain `openlora` command shares: the `--rpc`, `--deployment` and `--dev-account`
 * options, the signing key from the environment, connecting (with exit code 3 when the node is
 * unreachable), amounts in token units, output (human lines or one JSON object) and the mapping of
 * SDK errors to exit codes.
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { type Account, type Address, createPublicClient, getAddress, http } from "viem";
import {
  accountFromKey,
  assertConnected,
  createOpenLoRAClient,
  type OpenLoRAClient,
} from "../../../sdk/client";
import { PaymentClientError } from "../../../sdk/consumer/payingFetch";
import { DeploymentError, findDeploymentFile, readDeployment } from "../../../sdk/deployments";
import {
  ContractRevertError,
  InvalidArgumentError,
  MissingAccountError,
  OpenLoRAError,
  RpcUnreachableError,
  TransactionFailedError,
} from "../../../sdk/errors";
import { formatAmount, parseAmount, tokenInfo } from "../../../sdk/token";
import { AnvilStartError } from "../../chain/anvil";
import { DeployError, DeploymentExistsError, devAccounts } from "../../chain/devnet";
import { CliError, ExitCode } from "../errors";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** The embedded default: the node `openlora devnet` starts. */
export const DEFAULT_RPC = "http://127.0.0.1:8545";
export const KEY_ENV = "OPENLORA_PRIVATE_KEY";
export const RPC_ENV = "OPENLORA_RPC";
export const DEPLOYMENT_ENV = "OPENLORA_DEPLOYMENT";
const DEV_CHAIN_ID = 31337;

export interface ChainFlags {
  rpc?: string;
  deployment?: string;
  devAccount?: number;
  json?: boolean;
}

/** Adds the options of every on-chain command. */
export function withChainOptions(command: Command): Command {
  return command
    .option("--rpc <url>", `JSON-RPC endpoint (default: $${RPC_ENV} or ${DEFAULT_RPC}, the devnet)`)
    .option(
      "--deployment <file>",
      `deployments file (default: $${DEPLOYMENT_ENV}, or the node's own deployments/local/<chainId>-<port>.json for a node on this machine, or deployments/<chainId>.json)`,
    )
    .option(
      "--dev-account <n>",
      `sign with anvil dev account n (local chains only; default when $${KEY_ENV} is unset on chain ${DEV_CHAIN_ID}: 0)`,
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 1000)
          throw new CliError(`--dev-account must be an index, got ${v}`, ExitCode.usage);
        return n;
      },
    );
}

export function flagsOf(command: Command): ChainFlags {
  return command.optsWithGlobals() as ChainFlags;
}

export interface Connected {
  client: OpenLoRAClient;
  account: Account | null;
  /** Where the account came from, for messages: "OPENLORA_PRIVATE_KEY" or "dev account 0". */
  accountSource: string | null;
  deploymentFile: string;
}

/**
 * Connects to the node, reads the deployment of its chain and picks the signing account: the
 * key in $OPENLORA_PRIVATE_KEY, or `--dev-account n`, or dev account 0 on a local chain.
 */
export async function connect(command: Command, options: { account: boolean }): Promise<Connected> {
  const flags = flagsOf(command);
  const rpcUrl = flags.rpc ?? process.env[RPC_ENV] ?? DEFAULT_RPC;
  let chainId: number;
  try {
    chainId = await createPublicClient({
      transport: http(rpcUrl, { retryCount: 0, timeout: 10_000 }),
    }).getChainId();
  } catch (error) {
    throw new CliError(
      `cannot reach the chain at ${rpcUrl}: ${shortCause(error)} (start one with \`openlora devnet\`, or pass --rpc)`,
      ExitCode.unreachable,
      { rpcUrl },
    );
  }
  const deploymentFile = path.resolve(
    flags.deployment ??
      process.env[DEPLOYMENT_ENV] ??
      findDeploymentFile(chainId, rpcUrl, path.join(repoRoot, "deployments")),
  );
  if (!existsSync(deploymentFile)) {
    throw new CliError(
      `no deployment for chain ${chainId}: ${path.relative(process.cwd(), deploymentFile) || deploymentFile} does not exist (run \`openlora devnet\` or \`openlora deploy\`, or pass --deployment)`,
      ExitCode.usage,
      { chainId, deploymentFile },
    );
  }
  const deployment = readDeployment(deploymentFile);
  if (deployment.chainId !== chainId) {
    throw new CliError(
      `the deployment file is for chain ${deployment.chainId}, but the node at ${rpcUrl} runs chain ${chainId}`,
      ExitCode.usage,
      { chainId, deploymentChainId: deployment.chainId },
    );
  }
  let account: Account | null = null;
  let accountSource: string | null = null;
  if (options.account) {
    ({ account, accountSource } = pickAccount(flags, chainId));
  }
  const client = createOpenLoRAClient({ rpcUrl, deployment, ...(account ? { account } : {}) });
  await assertConnected(client);
  return { client, account, accountSource, deploymentFile };
}

function pickAccount(flags: ChainFlags, chainId: number): { account: Account; accountSource: string } {
  if (flags.devAccount !== undefined) {
    if (chainId !== DEV_CHAIN_ID) {
      throw new CliError(`--dev-account is for local chains (chain ${DEV_CHAIN_ID}) only`, ExitCode.usage);
    }
    const dev = devAccounts(flags.devAccount + 1)[flags.devAccount];
    if (!dev) throw new CliError(`no dev account ${flags.devAccount}`, ExitCode.usage);
    return { account: accountFromKey(dev.privateKey), accountSource: `dev account ${flags.devAccount}` };
  }
  const key = process.env[KEY_ENV];
  if (key !== undefined && key.trim() !== "") {
    try {
      return { account: accountFromKey(key), accountSource: KEY_ENV };
    } catch (error) {
      throw new CliError(`${KEY_ENV}: ${(error as Error).message}`, ExitCode.usage);
    }
  }
  if (chainId === DEV_CHAIN_ID) {
    const dev = devAccounts(1)[0];
    if (!dev) throw new CliError("no dev account 0", ExitCode.failure);
    return { account: accountFromKey(dev.privateKey), accountSource: "dev account 0" };
  }
  throw new CliError(
    `this command signs transactions: set ${KEY_ENV} to the account's private key`,
    ExitCode.usage,
  );
}

/** Parses a decimal token amount ("12.5") into base units of the payment asset. */
export async function tokenAmount(client: OpenLoRAClient, text: string, what: string): Promise<bigint> {
  const { decimals } = await tokenInfo(client);
  try {
    const amount = parseAmount(text, decimals);
    if (amount <= 0n) throw new InvalidArgumentError(`${what} must be positive`);
    return amount;
  } catch (error) {
    throw new CliError(`${what}: ${(error as Error).message}`, ExitCode.usage);
  }
}

/** A formatter for base units of the payment asset: "12.5 tUSD". */
export async function amountFormatter(client: OpenLoRAClient): Promise<(value: bigint) => string> {
  const { decimals, symbol } = await tokenInfo(client);
  return (value) => `${formatAmount(value, decimals)} ${symbol}`;
}

/** Commander parser of a non-negative integer id (model, channel) into a bigint. */
export function parseId(what: string) {
  return (value: string): bigint => {
    if (!/^\d+$/.test(value.trim()))
      throw new CliError(`${what} must be a whole number, got "${value}"`, ExitCode.usage);
    return BigInt(value.trim());
  };
}

/** Commander parser of an address flag: a malformed one is bad usage, not a stack trace. */
export function parseAddress(flag: string) {
  return (value: string): Address => {
    if (!/^0x[0-9a-fA-F]{40}$/.test(value.trim()))
      throw new CliError(`${flag} must be an address, got "${value}"`, ExitCode.usage);
    return getAddress(value.trim());
  };
}

/** Refuses a flag that names a directory where a file is to be written, before anything is spent. */
export function assertFileTarget(flag: string, file: string | undefined): void {
  if (file !== undefined && existsSync(file) && statSync(file).isDirectory())
    throw new CliError(`${flag} ${file} is a directory: name a file`, ExitCode.usage, { file });
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v));
}

/** Prints one JSON object (--json) or the human lines. */
export function output(command: Command, json: Record<string, unknown>, human: () => string[]): void {
  if (flagsOf(command).json) console.log(toJson(json));
  else for (const line of human()) console.log(line);
}

/** Progress on stderr, never on stdout (which --json keeps for its one object). */
export function progress(_command: Command, message: string): void {
  process.stderr.write(`${message}\n`);
}

function shortCause(error: unknown): string {
  const e = error as { shortMessage?: string; details?: string; message?: string };
  const text = e.details ?? e.shortMessage ?? e.message ?? String(error);
  return text.split("\n")[0] as string;
}

/** Maps SDK and tool errors to the CLI's exit codes; anything unknown stays as it is (exit 1). */
export function asCliError(error: unknown): unknown {
  if (error instanceof CliError) return error;
  const make = (e: { message: string; details?: object }, code: ExitCode) =>
    new CliError(e.message, code, plain(e.details ?? {}));
  if (error instanceof RpcUnreachableError) return make(error, ExitCode.unreachable);
  if (error instanceof ContractRevertError || error instanceof TransactionFailedError) {
    return make(error, ExitCode.rejected);
  }
  if (error instanceof InvalidArgumentError || error instanceof MissingAccountError)
    return make(error, ExitCode.usage);
  if (error instanceof DeploymentError) return make(error, ExitCode.usage);
  if (error instanceof PaymentClientError) return make(error, ExitCode.rejected);
  if (error instanceof AnvilStartError) {
    // anvil says why on its own output (e.g. the port is taken): the last line of it.
    const why = error.details.output.trim().split("\n").at(-1);
    return make(
      { message: why ? `${error.message}: ${why}` : error.message, details: error.details },
      ExitCode.failure,
    );
  }
  if (error instanceof DeploymentExistsError) return make(error, ExitCode.rejected);
  if (error instanceof DeployError) return make(error, ExitCode.failure);
  if (error instanceof OpenLoRAError) return make(error, ExitCode.failure);
  return error;
}

/** Details as plain JSON values (bigints as strings), so that --json can print them. */
function plain(details: object): Record<string, unknown> {
  return JSON.parse(toJson(details)) as Record<string, unknown>;
}

/** Wraps a command action so that every error leaves with its exit code. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      throw asCliError(error);
    }
  };
}

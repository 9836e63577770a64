/**
 * `openlora devnet`: a local chain with every OpenLoRA contract deployed and the dev accounts
 * funded, its addresses in its own deployments file (keyed by its port); runs until interrupted,
 * then stops anvil and removes that file. `openlora deploy`: runs the deploy script against any
 * chain. Neither replaces a deployments file whose contracts are live without --force.
 */
import path from "node:path";
import { type Command, Option } from "commander";
import { formatEther } from "viem";
import { accountFromKey } from "../../../sdk/client";
import { formatAmount } from "../../../sdk/token";
import {
  advanceChainTime,
  ClockError,
  DEFAULT_FUNDING,
  DEVNET_PERIODS,
  deployContracts,
  removeDeploymentFileOf,
  startDevnet,
} from "../../chain/devnet";
import { CliError, ExitCode } from "../errors";
import { action, DEFAULT_RPC, KEY_ENV, output, progress, RPC_ENV, repoRoot } from "./chainOptions";
import { deployingLine, withTicker } from "./deployProgress";

const ADDRESS_KEYS = [
  "paymentAsset",
  "modelRegistry",
  "coTrainingShares",
  "modelVaultFactory",
  "paymentChannels",
  "runnerRegistry",
  "settlement",
] as const;

function integer(what: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new CliError(`${what} must be a whole number ≥ ${min}, got "${value}"`, ExitCode.usage);
    return n;
  };
}

function tokens(value: string): bigint {
  if (!/^\d+$/.test(value))
    throw new CliError(`--funding must be a whole number of tUSD, got "${value}"`, ExitCode.usage);
  return BigInt(value) * 1_000_000n;
}

interface DevnetFlags {
  port: number;
  accounts: number;
  funding: bigint;
  deploymentFile?: string;
  profitUnlockPeriod: number;
  challengePeriod: number;
  unbondingDelay: number;
  wait: boolean;
  force?: boolean;
}

export function registerDevnet(program: Command): void {
  const devnet = program.command("devnet");
  registerAdvance(devnet);
  devnet
    .description(
      "start a local anvil chain, deploy every OpenLoRA contract, fund the dev accounts; runs until Ctrl-C",
    )
    .option("--port <n>", "port of the JSON-RPC endpoint (0: any free port)", integer("--port", 0), 8545)
    .option("--accounts <n>", "dev accounts to fund", integer("--accounts", 1), 10)
    // A bigint default needs its own description: commander's help prints defaults with
    // JSON.stringify, which throws on a bigint.
    .addOption(
      new Option("--funding <tUSD>", "TestUSD minted to every dev account")
        .argParser(tokens)
        .default(DEFAULT_FUNDING, formatAmount(DEFAULT_FUNDING, 6)),
    )
    .option(
      "--deployment-file <file>",
      "where to write the addresses, inside deployments/ (default: deployments/local/31337-<port>.json)",
    )
    .option("--force", "replace a deployments file whose contracts are live (a backup is kept)")
    .option(
      "--profit-unlock-period <seconds>",
      "vault revenue unlocking period, the contracts' minimum (`deploy`: 7 days)",
      integer("--profit-unlock-period", 1),
      DEVNET_PERIODS.PROFIT_UNLOCK_PERIOD,
    )
    .option(
      "--challenge-period <seconds>",
      "time a runner has to settle after a close request, the contracts' minimum (`deploy`: 1 day)",
      integer("--challenge-period", 1),
      DEVNET_PERIODS.CHALLENGE_PERIOD,
    )
    .option(
      "--unbonding-delay <seconds>",
      "time before a runner's unbonded stake can be withdrawn, the contracts' minimum (`deploy`: 7 days)",
      integer("--unbonding-delay", 1),
      DEVNET_PERIODS.UNBONDING_DELAY,
    )
    .option("--no-wait", "stop the chain right after printing (a smoke test)")
    .action(
      action(async (options: DevnetFlags, command: Command) => {
        progress(command, deployingLine(repoRoot, "starting anvil and running script/Deploy.s.sol"));
        const devnet = await withTicker(
          (line) => progress(command, line),
          startDevnet({
            port: options.port,
            accounts: options.accounts,
            funding: options.funding,
            ...(options.deploymentFile
              ? { deploymentFile: options.deploymentFile }
              : { keepDeploymentFile: true }),
            ...(options.force ? { force: true } : {}),
            env: {
              PROFIT_UNLOCK_PERIOD: String(options.profitUnlockPeriod),
              CHALLENGE_PERIOD: String(options.challengePeriod),
              UNBONDING_DELAY: String(options.unbondingDelay),
            },
          }),
        );
        const file = devnet.deploymentFile as string;
        const stop = async () => {
          await devnet.stop();
          removeDeploymentFileOf(devnet);
        };
        try {
          const relative = path.relative(repoRoot, file);
          output(
            command,
            {
              rpcUrl: devnet.rpcUrl,
              chainId: devnet.chainId,
              pid: devnet.pid,
              deploymentFile: file,
              deployment: devnet.deployment,
              funding: devnet.funding,
              accounts: devnet.accounts,
            },
            () => [
              `OpenLoRA devnet at ${devnet.rpcUrl} (chain ${devnet.chainId}, anvil pid ${devnet.pid})`,
              "",
              `contracts (${relative})`,
              ...ADDRESS_KEYS.map((k) => `  ${k.padEnd(18)} ${devnet.deployment[k]}`),
              "",
              `periods: challenge ${duration(options.challengePeriod)}, revenue unlocking ${duration(options.profitUnlockPeriod)}, unbonding ${duration(options.unbondingDelay)}`,
              "(move the chain's clock past them with: openlora devnet advance --time 1h)",
              "",
              `funded accounts: ${formatAmount(devnet.funding, 6)} tUSD and ${formatEther(10_000n * 10n ** 18n)} ETH each`,
              "(anvil's public dev keys: for this local chain only)",
              ...devnet.accounts.map(
                (a) => `  ${String(a.index).padStart(2)}  ${a.address}  ${a.privateKey}`,
              ),
              "",
              devnet.rpcUrl === DEFAULT_RPC
                ? "Other commands use this chain and dev account 0 by default; --dev-account n picks another."
                : `Point other commands at it with --rpc ${devnet.rpcUrl} (or $${RPC_ENV}).`,
              options.wait ? "Press Ctrl-C to stop it." : "Stopping (--no-wait).",
            ],
          );
        } catch (error) {
          await stop();
          throw error;
        }
        if (!options.wait) return stop();
        await new Promise<void>((resolve) => {
          const done = () => {
            process.off("SIGINT", done);
            process.off("SIGTERM", done);
            resolve();
          };
          process.on("SIGINT", done);
          process.on("SIGTERM", done);
        });
        progress(command, "stopping the devnet…");
        await stop();
      }),
    );
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };

/** "90", "90s", "10m", "1h30m", "7d", "2w": whole seconds, at least 1. */
export function parseDuration(value: string): number {
  const parts = [...value.trim().matchAll(/(\d+)([smhdw]?)/g)];
  const seconds = parts.reduce((sum, [, n, unit]) => sum + Number(n) * (UNITS[unit || "s"] as number), 0);
  if (parts.map((p) => p[0]).join("") !== value.trim() || !Number.isSafeInteger(seconds) || seconds < 1)
    throw new CliError(
      `--time takes a duration such as 90s, 10m, 1h30m, 7d or 2w, got "${value}"`,
      ExitCode.usage,
    );
  return seconds;
}

/** Seconds as the largest units that divide them: 600 → "10m", 5400 → "1h30m". */
export function duration(seconds: number): string {
  let rest = seconds;
  let text = "";
  for (const [unit, size] of Object.entries(UNITS).reverse()) {
    if (unit === "w") continue;
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text || "0s";
}

/** A chain timestamp as a date a person reads. */
const chainDate = (seconds: bigint) =>
  `${new Date(Number(seconds) * 1000)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "")} UTC`;

function registerAdvance(devnet: Command): void {
  devnet
    .command("advance")
    .description("move a devnet's clock forward (and mine a block), e.g. past a challenge period")
    .requiredOption("--time <duration>", "how far: 90s, 10m, 1h30m, 7d, 2w", parseDuration)
    .option("--rpc <url>", `the devnet's JSON-RPC endpoint (default: $${RPC_ENV} or ${DEFAULT_RPC})`)
    .action(
      action(async (options: { time: number; rpc?: string }, command: Command) => {
        const rpcUrl = options.rpc ?? process.env[RPC_ENV] ?? DEFAULT_RPC;
        await assertReachable(rpcUrl);
        let moved: Awaited<ReturnType<typeof advanceChainTime>>;
        try {
          moved = await advanceChainTime(rpcUrl, options.time);
        } catch (error) {
          if (error instanceof ClockError)
            throw new CliError(error.message, ExitCode.rejected, error.details);
          throw error;
        }
        output(
          command,
          {
            rpcUrl,
            advancedBy: options.time,
            timestamp: moved.timestamp,
            date: new Date(Number(moved.timestamp) * 1000).toISOString(),
            blockNumber: moved.blockNumber,
          },
          () => [
            `moved the clock of ${rpcUrl} forward by ${duration(options.time)}: chain time is now ${chainDate(moved.timestamp)} (block ${moved.blockNumber})`,
          ],
        );
      }),
    );
}

interface DeployFlags {
  rpc?: string;
  paymentAsset?: string;
  admin?: string;
  treasury?: string;
  profitUnlockPeriod?: number;
  challengePeriod?: number;
  protocolFeeBps?: number;
  set: string[];
  deploymentFile?: string;
  force?: boolean;
}

/** The deploy script's settings (its header lists them) that `--set` may pass. */
const SCRIPT_SETTINGS = new Set([
  "PAYMENT_ASSET",
  "ADMIN",
  "PROFIT_UNLOCK_PERIOD",
  "TREASURY",
  "PROTOCOL_FEE_BPS",
  "MAX_RUNNER_FEE_BPS",
  "MIN_RUNNER_BOND",
  "UNBONDING_DELAY",
  "SLASH_BPS",
  "REPORTER_REWARD_BPS",
  "CHALLENGE_PERIOD",
]);

export function registerDeploy(program: Command): void {
  program
    .command("deploy")
    .description(`deploy every OpenLoRA contract to a chain with script/Deploy.s.sol (key from $${KEY_ENV})`)
    .option("--rpc <url>", `JSON-RPC endpoint (default: $${RPC_ENV} or ${DEFAULT_RPC})`)
    .option("--payment-asset <address>", "ERC-20 to pay in (default: deploy a TestUSD)")
    .option("--admin <address>", "final holder of every admin role (default: the deployer)")
    .option("--treasury <address>", "receives protocol fees (default: the admin)")
    .option(
      "--protocol-fee-bps <bps>",
      "protocol fee on settled revenue (default 500)",
      integer("--protocol-fee-bps", 0),
    )
    .option(
      "--profit-unlock-period <seconds>",
      "vault revenue unlocking period (default 7 days)",
      integer("--profit-unlock-period", 1),
    )
    .option(
      "--challenge-period <seconds>",
      "time a runner has to settle after a close request (default 1 day)",
      integer("--challenge-period", 1),
    )
    .option(
      "--set <NAME=value>",
      "any other setting of script/Deploy.s.sol (MIN_RUNNER_BOND, UNBONDING_DELAY, ...); repeatable",
      (v: string, prev: string[] = []) => [...prev, v],
      [],
    )
    .option(
      "--deployment-file <file>",
      "where to write the addresses, inside deployments/ (default: deployments/<chainId>.json, or deployments/local/<chainId>-<port>.json for a node on this machine)",
    )
    .option("--force", "replace a deployments file whose contracts are live (a backup is kept)")
    .action(
      action(async (options: DeployFlags, command: Command) => {
        const rpcUrl = options.rpc ?? process.env[RPC_ENV] ?? DEFAULT_RPC;
        const key = process.env[KEY_ENV];
        if (!key)
          throw new CliError(
            `deploy signs transactions: set ${KEY_ENV} to the deployer's private key`,
            ExitCode.usage,
          );
        let privateKey: `0x${string}`;
        try {
          accountFromKey(key);
          privateKey = (key.trim().startsWith("0x") ? key.trim() : `0x${key.trim()}`) as `0x${string}`;
        } catch (error) {
          throw new CliError(`${KEY_ENV}: ${(error as Error).message}`, ExitCode.usage);
        }
        for (const [flag, value] of [
          ["--payment-asset", options.paymentAsset],
          ["--admin", options.admin],
          ["--treasury", options.treasury],
        ] as const) {
          if (value !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(value)) {
            throw new CliError(`${flag} must be an address, got "${value}"`, ExitCode.usage);
          }
        }
        const env: Record<string, string> = {};
        for (const pair of options.set) {
          const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
          if (!SCRIPT_SETTINGS.has(name) || value === "") {
            throw new CliError(
              `--set takes NAME=value with NAME one of ${[...SCRIPT_SETTINGS].join(", ")}; got "${pair}"`,
              ExitCode.usage,
            );
          }
          env[name] = value;
        }
        if (options.paymentAsset) env.PAYMENT_ASSET = options.paymentAsset;
        if (options.admin) env.ADMIN = options.admin;
        if (options.treasury) env.TREASURY = options.treasury;
        if (options.protocolFeeBps !== undefined) env.PROTOCOL_FEE_BPS = String(options.protocolFeeBps);
        if (options.profitUnlockPeriod) env.PROFIT_UNLOCK_PERIOD = String(options.profitUnlockPeriod);
        if (options.challengePeriod) env.CHALLENGE_PERIOD = String(options.challengePeriod);
        await assertReachable(rpcUrl);
        progress(command, deployingLine(repoRoot, `deploying to ${rpcUrl} with script/Deploy.s.sol`));
        const { deployment, file, backup } = await withTicker(
          (line) => progress(command, line),
          deployContracts({
            rpcUrl,
            privateKey,
            env,
            ...(options.deploymentFile ? { deploymentFile: options.deploymentFile } : {}),
            ...(options.force ? { force: true } : {}),
          }),
        );
        output(command, { rpcUrl, deploymentFile: file, backup, deployment }, () => [
          `deployed OpenLoRA to chain ${deployment.chainId} at ${rpcUrl}`,
          `addresses written to ${path.relative(process.cwd(), file)}`,
          ...(backup ? [`the file it replaced is kept as ${path.relative(process.cwd(), backup)}`] : []),
          ...ADDRESS_KEYS.map((k) => `  ${k.padEnd(18)} ${deployment[k]}`),
        ]);
      }),
    );
}

async function assertReachable(rpcUrl: string): Promise<void> {
  try {
    const response = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (error) {
    throw new CliError(
      `cannot reach the chain at ${rpcUrl}: ${(error as Error).message}`,
      ExitCode.unreachable,
      {
        rpcUrl,
      },
    );
  }
}

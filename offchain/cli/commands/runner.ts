/**
 * `openlora runner register|list|claim-fees`: a node operator's on-chain side (registration with a
 * bond, its fees), and the runner list consumers discover endpoints from. Serving is `openlora serve`.
 */
import type { Command } from "commander";
import type { Account } from "viem";
import {
  claimRunnerFees,
  getRunner,
  listRunners,
  minBond,
  registerRunner,
  runnerFeesAccrued,
} from "../../../sdk/runners";
import { CliError, ExitCode } from "../errors";
import { action, amountFormatter, connect, output, tokenAmount, withChainOptions } from "./chainOptions";
import { assertFunds } from "./funds";

export function registerRunnerCommands(program: Command): void {
  const runner = program
    .command("runner")
    .description("register as a runner, list runners, claim runner fees");

  withChainOptions(
    runner
      .command("register")
      .description("register your account as a runner at an endpoint, staking a bond (approves it first)")
      .requiredOption("--endpoint <url>", "base URL of your `openlora serve` HTTP API")
      .option(
        "--fee-bps <bps>",
        "your fee on what you settle, in bps (capped by governance)",
        (v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0 || n > 10_000)
            throw new CliError(`--fee-bps must be 0 to 10000, got "${v}"`, ExitCode.usage);
          return n;
        },
        500,
      )
      .option("--bond <tUSD>", "bond to stake (default: the registry's minimum)"),
  ).action(
    action(async (options: { endpoint: string; feeBps: number; bond?: string }, command: Command) => {
      try {
        new URL(options.endpoint);
      } catch {
        throw new CliError(`--endpoint must be a URL, got "${options.endpoint}"`, ExitCode.usage);
      }
      const { client, account } = await connect(command, { account: true });
      const minimum = await minBond(client);
      const bond = options.bond ? await tokenAmount(client, options.bond, "--bond") : minimum;
      if (bond < minimum) {
        // The registry would take it and leave the runner inactive, its bond locked for nothing.
        const fmt = await amountFormatter(client);
        throw new CliError(
          `--bond ${fmt(bond)} is below the registry's minimum bond of ${fmt(minimum)}: a runner with less is not active and cannot settle`,
          ExitCode.usage,
          { bond: bond.toString(), minBond: minimum.toString() },
        );
      }
      await assertFunds(client, account as Account, bond);
      const { hash } = await registerRunner(client, {
        endpoint: options.endpoint,
        feeBps: options.feeBps,
        bond,
      });
      const info = await getRunner(client, (account as Account).address);
      const fmt = await amountFormatter(client);
      output(command, { runner: info, transaction: hash }, () => [
        `registered runner ${info.address} at ${info.endpoint}: fee ${info.feeBps / 100}%, bond ${fmt(info.bond)}, ${info.active ? "active" : "not active (bond below the minimum)"} (${hash})`,
      ]);
    }),
  );

  withChainOptions(
    runner.command("list").description("every registered runner: endpoint, fee, bond, whether active"),
  ).action(
    action(async (_options: unknown, command: Command) => {
      const { client } = await connect(command, { account: false });
      const runners = await listRunners(client);
      const fmt = await amountFormatter(client);
      output(command, { runners }, () =>
        runners.length === 0
          ? ["no runner is registered yet"]
          : runners.map(
              (r) =>
                `${r.address}  ${r.active ? "active  " : "inactive"}  ${r.endpoint}  fee ${r.feeBps / 100}%  bond ${fmt(r.bond)}`,
            ),
      );
    }),
  );

  withChainOptions(runner.command("claim-fees").description("claim the fees your settlements earned")).action(
    action(async (_options: unknown, command: Command) => {
      const { client, account } = await connect(command, { account: true });
      const who = (account as Account).address;
      const fmt = await amountFormatter(client);
      const accrued = await runnerFeesAccrued(client, who);
      if (accrued === 0n) {
        output(command, { runner: who, amount: 0n, transaction: null }, () => [
          `no runner fees to claim for ${who}`,
        ]);
        return;
      }
      await assertFunds(client, account as Account);
      const { amount, hash } = await claimRunnerFees(client);
      output(command, { runner: who, amount, transaction: hash }, () => [
        `claimed ${fmt(amount)} of runner fees (${hash})`,
      ]);
    }),
  );
}

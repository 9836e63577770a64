/**
 * `openlora status`: what an account has in OpenLoRA — balance, models it owns (usage, vault),
 * share units and claimable rewards, vault positions, channels, and its runner record — plus the
 * registered models.
 */
import type { Command } from "commander";
import { type Address, getAddress } from "viem";
import { call } from "../../../sdk/client";
import { channelsOf, getChannel } from "../../../sdk/consumer/channels";
import { settlementAbi } from "../../../sdk/generated/abis";
import {
  getModel,
  listModels,
  listModelsByOwner,
  type ModelInfo,
  metadataFromUri,
} from "../../../sdk/integrator/models";
import { claimableRewards } from "../../../sdk/investor/rewards";
import { getVaultState, vaultPositions } from "../../../sdk/investor/vaults";
import { getRunner } from "../../../sdk/runners";
import { balanceOf, formatAmount } from "../../../sdk/token";
import { CliError, ExitCode } from "../errors";
import { action, amountFormatter, connect, output, withChainOptions } from "./chainOptions";

const MAX_MODELS = 200;

function nameOf(model: ModelInfo): string {
  const name = metadataFromUri(model.metadataURI)?.name;
  return typeof name === "string" ? name : model.metadataURI.slice(0, 40) || "(no metadata)";
}

export function registerStatus(program: Command): void {
  withChainOptions(
    program
      .command("status")
      .description(
        "an account's balance, models, share units, rewards, vault positions and channels; the registered models",
      )
      .option("--account <address>", "the account to show (default: yours)"),
  ).action(
    action(async (options: { account?: string }, command: Command) => {
      if (options.account !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(options.account)) {
        throw new CliError(`--account must be an address, got "${options.account}"`, ExitCode.usage);
      }
      const { client, account } = await connect(command, { account: options.account === undefined });
      const who: Address = options.account ? getAddress(options.account) : (account?.address as Address);
      const fmt = await amountFormatter(client);

      const ids = await listModels(client);
      const shown = ids.slice(-MAX_MODELS);
      const models = await Promise.all(shown.map((id) => getModel(client, id)));
      const vaults = await Promise.all(models.map((m) => getVaultState(client, { vault: m.vault })));
      const owned = new Set((await listModelsByOwner(client, who)).map(String));
      const rewards = (await claimableRewards(client, who, shown)).filter(
        (r) => r.units > 0n || r.claimable > 0n,
      );
      const positions = await vaultPositions(client, who, shown);
      const channels = await Promise.all((await channelsOf(client, who)).map((id) => getChannel(client, id)));
      const runner = await getRunner(client, who);
      const settlement = { address: client.deployment.settlement, abi: settlementAbi } as const;
      const runnerFees = runner.registered
        ? await call(client, "Settlement.runnerFeesAccrued", () =>
            client.publicClient.readContract({
              ...settlement,
              functionName: "runnerFeesAccrued",
              args: [who],
            }),
          )
        : 0n;
      const balance = await balanceOf(client, who);

      const modelRows = models.map((m, i) => ({
        modelId: m.modelId,
        name: nameOf(m),
        owner: m.owner,
        ownedByAccount: owned.has(String(m.modelId)),
        status: m.status,
        pricePerCall: m.pricePerCall,
        totalCalls: m.totalCalls,
        totalRevenue: m.totalRevenue,
        vault: m.vault,
        vaultAssets: vaults[i]?.totalAssets,
        vaultLocked: vaults[i]?.lockedRevenue,
        sharePrice: vaults[i]?.sharePrice,
      }));
      const decimals = vaults[0]?.decimals ?? 6;
      output(
        command,
        {
          account: who,
          balance,
          models: modelRows,
          modelCount: ids.length,
          rewards,
          vaultPositions: positions,
          channels,
          runner: runner.registered ? { ...runner, feesAccrued: runnerFees } : null,
        },
        () => [
          `account ${who}: ${fmt(balance)}`,
          "",
          `models (${ids.length} registered${ids.length > MAX_MODELS ? `, last ${MAX_MODELS} shown` : ""}; * = yours)`,
          ...(modelRows.length === 0
            ? ["  none yet: register one with `openlora register <manifest>`"]
            : modelRows.map(
                (m) =>
                  `  ${m.ownedByAccount ? "*" : " "}${String(m.modelId).padStart(3)} ${m.name.padEnd(18).slice(0, 18)} ${m.status.padEnd(7)} ${fmt(m.pricePerCall)}/call  ${m.totalCalls} calls  ${fmt(m.totalRevenue)} revenue  vault ${fmt(m.vaultAssets ?? 0n)} (${fmt(m.sharePrice ?? 0n)}/share, ${fmt(m.vaultLocked ?? 0n)} unlocking)`,
              )),
          "",
          "share units and rewards",
          ...(rewards.length === 0
            ? ["  none"]
            : rewards.map(
                (r) =>
                  `  model ${r.modelId}: ${r.units} / ${r.totalUnits} units, ${fmt(r.claimable)} to claim`,
              )),
          "",
          "vault positions",
          ...(positions.length === 0
            ? ["  none"]
            : positions.map(
                (p) =>
                  `  model ${p.modelId}: ${formatAmount(p.shares, decimals + 6)} shares worth ${fmt(p.assets)}`,
              )),
          "",
          "channels (as consumer)",
          ...(channels.length === 0
            ? ["  none"]
            : channels.map(
                (c) =>
                  `  ${String(c.channelId).padStart(3)} to ${c.runner}: ${c.state}, deposited ${fmt(c.deposited)}, paid ${fmt(c.paid)}, balance ${fmt(c.balance)}`,
              )),
          ...(runner.registered
            ? [
                "",
                `runner: ${runner.active ? "active" : "inactive"} at ${runner.endpoint}, fee ${runner.feeBps / 100}%, bond ${fmt(runner.bond)}, fees to claim ${fmt(runnerFees)}`,
              ]
            : []),
        ],
      );
    }),
  );
}

/**
 * `openlora vault deposit|redeem|show`: back a model through its ERC-4626 vault.
 * `openlora claim`: a contributor claims its rewards from one model or all of them.
 */
import type { Command } from "commander";
import type { Account } from "viem";
import { listModelsWithUnits } from "../../../sdk/integrator/models";
import { redeemForfeit } from "../../../sdk/investor/forfeit";
import { claimableRewards, claimRewards } from "../../../sdk/investor/rewards";
import { depositToVault, getVaultState, previewYield, redeemFromVault } from "../../../sdk/investor/vaults";
import { formatAmount, tokenInfo } from "../../../sdk/token";
import { CliError, ExitCode } from "../errors";
import {
  action,
  amountFormatter,
  connect,
  output,
  parseId,
  progress,
  tokenAmount,
  withChainOptions,
} from "./chainOptions";

const date = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString();

export function registerVault(program: Command): void {
  const vault = program.command("vault").description("deposit into and redeem from a model's yield vault");

  withChainOptions(
    vault
      .command("deposit")
      .description("deposit the payment asset into a model's vault (approves it first if needed)")
      .requiredOption("--model <id>", "the model", parseId("--model"))
      .requiredOption("--amount <tUSD>", "amount to deposit"),
  ).action(
    action(async (options: { model: bigint; amount: string }, command: Command) => {
      const { client } = await connect(command, { account: true });
      const assets = await tokenAmount(client, options.amount, "--amount");
      const {
        vault: address,
        shares,
        hash,
      } = await depositToVault(client, { modelId: options.model }, assets);
      const fmt = await amountFormatter(client);
      const { decimals } = await tokenInfo(client);
      output(command, { model: options.model, vault: address, assets, shares, transaction: hash }, () => [
        `deposited ${fmt(assets)} into the vault of model ${options.model} (${address})`,
        `  received ${formatAmount(shares, decimals + 6)} shares (${hash})`,
      ]);
    }),
  );

  withChainOptions(
    vault
      .command("redeem")
      .description("redeem vault shares for the payment asset")
      .requiredOption("--model <id>", "the model", parseId("--model"))
      .option(
        "--shares <n>",
        "shares to redeem, in share base units (default: all of yours)",
        parseId("--shares"),
      ),
  ).action(
    action(async (options: { model: bigint; shares?: bigint }, command: Command) => {
      const { client } = await connect(command, { account: true });
      const forfeit = await redeemForfeit(client, { modelId: options.model }, options.shares ?? "all");
      const result = await redeemFromVault(client, { modelId: options.model }, options.shares ?? "all");
      const fmt = await amountFormatter(client);
      if (forfeit.amount > 0n)
        progress(
          command,
          `warning: redeemed before the vault's revenue unlocked: these shares gave up about ${fmt(forfeit.amount)} that would have been theirs by ${date(forfeit.unlockEnd)}; it stays with the vault's other holders`,
        );
      const { decimals } = await tokenInfo(client);
      output(
        command,
        { model: options.model, ...result, transaction: result.hash, forfeited: forfeit.amount },
        () => [
          `redeemed ${formatAmount(result.shares, decimals + 6)} shares of model ${options.model}'s vault for ${fmt(result.assets)} (${result.hash})`,
        ],
      );
    }),
  );

  withChainOptions(
    vault
      .command("show")
      .description("a vault's assets, share price and revenue still unlocking (and your position)")
      .requiredOption("--model <id>", "the model", parseId("--model")),
  ).action(
    action(async (options: { model: bigint }, command: Command) => {
      const { client, account } = await connect(command, { account: true });
      const state = await getVaultState(client, { modelId: options.model });
      const preview = await previewYield(
        client,
        { vault: state.vault },
        { account: (account as Account).address },
      );
      const fmt = await amountFormatter(client);
      output(command, { state, preview }, () => [
        `vault of model ${options.model}: ${state.vault}`,
        `  total assets      ${fmt(state.totalAssets)}`,
        `  share price       ${formatAmount(state.sharePrice, state.decimals)} per share`,
        `  still unlocking   ${fmt(state.lockedRevenue)}${state.lockedRevenue > 0n ? ` (until ${date(state.unlockEnd)})` : ""}`,
        `  revenue received  ${fmt(state.totalRevenue)}`,
        `  when unlocked     share price ${formatAmount(preview.at.sharePrice, state.decimals)}, total ${fmt(preview.at.totalAssets)}`,
        ...(preview.position && preview.position.shares > 0n
          ? [
              `  your shares       ${formatAmount(preview.position.shares, state.decimals + 6)} worth ${fmt(preview.position.assetsNow)} now, ${fmt(preview.position.assetsAt)} once unlocked`,
            ]
          : []),
      ]);
    }),
  );
}

export function registerClaim(program: Command): void {
  withChainOptions(
    program
      .command("claim")
      .description("claim your share-unit rewards from models (default: every model you hold units in)")
      .option("--model <id...>", "the models to claim from", (v: string, prev: bigint[] = []) => [
        ...prev,
        parseId("--model")(v),
      ]),
  ).action(
    action(async (options: { model?: bigint[] }, command: Command) => {
      const { client, account } = await connect(command, { account: true });
      const holder = (account as Account).address;
      const models = options.model ?? (await listModelsWithUnits(client, holder));
      const fmt = await amountFormatter(client);
      if (models.length === 0) {
        throw new CliError(`${holder} holds units in no model: nothing to claim`, ExitCode.usage);
      }
      const owed = await claimableRewards(client, holder, models);
      const due = owed.filter((o) => o.claimable > 0n).map((o) => o.modelId);
      if (due.length === 0) {
        output(command, { account: holder, amount: 0n, perModel: [], transaction: null }, () => [
          `nothing to claim yet for ${holder} from model(s) ${models.join(", ")}`,
        ]);
        return;
      }
      const result = await claimRewards(client, due);
      output(
        command,
        { account: holder, amount: result.amount, perModel: result.perModel, transaction: result.hash },
        () => [
          `claimed ${fmt(result.amount)} for ${holder} (${result.hash})`,
          ...result.perModel.map((p) => `  model ${p.modelId}: ${fmt(p.amount)}`),
        ],
      );
    }),
  );
}

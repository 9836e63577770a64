/**
 * `openlora status`: what an account has in OpenLoRA — balance, models it owns (usage, vault),
 * share units and claimable rewards, vault positions, channels, and its runner record — plus the
 * registered models. `openlora verify-receipt`: checks a receipt's signature and its inclusion in a
 * settled batch on-chain.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { type Address, getAddress, type Hex } from "viem";
import { call } from "../../../sdk/client";
import { channelsOf, getChannel } from "../../../sdk/consumer/channels";
import { inclusionProofFromJson, verifyReceiptInclusion } from "../../../sdk/consumer/receipts";
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
import { action, amountFormatter, connect, flagsOf, output, toJson, withChainOptions } from "./chainOptions";

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
                  `  ${m.ownedByAccount ? "*" : " "}${String(m.modelId).padStart(3)} ${m.name.padEnd(18).slice(0, 18)} ${m.status.padEnd(7)} ${fmt(m.pricePerCall)}/call  ${m.totalCalls} calls  ${fmt(m.totalRevenue)} revenue  vault ${fmt(m.vaultAssets ?? 0n)} (price ${formatAmount(m.sharePrice ?? 0n, decimals)}, ${fmt(m.vaultLocked ?? 0n)} unlocking)`,
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

interface VerifyFlags {
  proof?: string;
  receipt?: string;
  runnerUrl?: string;
  requestHash?: string;
}

export function registerVerifyReceipt(program: Command): void {
  withChainOptions(
    program
      .command("verify-receipt")
      .description(
        "check a receipt's runner signature and its inclusion in a batch settled on-chain (Merkle proof)",
      )
      .option("--proof <file>", "the receipt's inclusion proof as JSON (runner, sequence, receipt, proof)")
      .option("--runner-url <url>", "fetch the proof from this runner (GET /v2/receipts/{requestHash}/proof)")
      .option(
        "--request-hash <hash>",
        "the receipt's request hash (with --runner-url; default: from --receipt)",
      )
      .option(
        "--receipt <file>",
        "a receipt saved by `openlora call --receipt-out`, to check its signature too",
      ),
  ).action(
    action(async (options: VerifyFlags, command: Command) => {
      const saved = options.receipt ? readJson(options.receipt) : null;
      const requestHash =
        options.requestHash ?? (saved?.receipt as { requestHash?: string } | undefined)?.requestHash;
      let proofJson: unknown;
      if (options.proof) proofJson = readJson(options.proof);
      else if (options.runnerUrl) {
        if (!requestHash || !/^0x[0-9a-fA-F]{64}$/.test(requestHash)) {
          throw new CliError("name the receipt with --request-hash or --receipt", ExitCode.usage);
        }
        proofJson = await fetchProof(options.runnerUrl, requestHash as Hex);
      } else throw new CliError("give the proof with --proof <file> or --runner-url <url>", ExitCode.usage);
      const proof = inclusionProofFromJson(proofJson);
      const signature = saved?.receiptSignature as Hex | undefined;
      if (saved && signature === undefined)
        throw new CliError(`${options.receipt} holds no receiptSignature`, ExitCode.usage);
      const { client } = await connect(command, { account: false });
      const result = await verifyReceiptInclusion(client, proof, signature);
      const ok = result.included && result.signatureValid !== false;
      const summary = {
        ...result,
        runner: proof.runner,
        sequence: proof.sequence,
        receipt: proof.receipt,
        valid: ok,
      };
      const failure = () =>
        new CliError(
          result.included
            ? "the receipt is not signed by the runner"
            : "the receipt is not included in that settled batch",
          ExitCode.rejected,
          JSON.parse(toJson(summary)),
        );
      // --json prints one object: the error with the findings as details.
      if (!ok && flagsOf(command).json) throw failure();
      output(command, summary, () => [
        `receipt of call ${proof.receipt.callIndex} on channel ${proof.receipt.channelId}, model ${proof.receipt.modelId}`,
        `  leaf       ${result.leaf}`,
        `  batch      ${proof.sequence} of runner ${proof.runner}, root ${result.root}`,
        `  on-chain   ${result.included ? "included (Settlement.verifyReceipt)" : "NOT included"}`,
        `  local      ${result.locallyVerified ? "proof reaches the stored root" : "proof does not reach the stored root"}`,
        ...(result.signatureValid === undefined
          ? []
          : [`  signature  ${result.signatureValid ? "signed by the runner" : "NOT signed by the runner"}`]),
      ]);
      if (!ok) throw failure();
    }),
  );
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, ExitCode.usage, { file });
  }
}

async function fetchProof(runnerUrl: string, requestHash: Hex): Promise<unknown> {
  const url = `${runnerUrl.replace(/\/+$/, "")}/v2/receipts/${requestHash}/proof`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch {
    throw new CliError(`cannot reach the runner at ${runnerUrl}`, ExitCode.unreachable, { url });
  }
  if (response.status === 404) {
    throw new CliError(
      "the runner has not settled this receipt yet (try `openlora settle` first)",
      ExitCode.rejected,
      { url },
    );
  }
  if (!response.ok)
    throw new CliError(`the runner answered ${response.status} for ${url}`, ExitCode.rejected, { url });
  return response.json();
}

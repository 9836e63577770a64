/**
 * The main job, end to end on a local chain: deploy, train (the content filter co-trained by
 * three contributors, the crypto-sentiment model by one), register both with provenance and
 * consent, start a runner, let two investors back the models, run paid calls from several
 * consumers, settle, let everyone collect, and account for every wei.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { type Address, type Hex, parseUnits } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createOpenLoRAClient, type OpenLoRAClient, withAccount } from "../../sdk/client";
import { getChannel, openChannel, paidFetch } from "../../sdk/consumer/channels";
import type { PaidReceipt } from "../../sdk/consumer/payingFetch";
import { verifyReceiptInclusion } from "../../sdk/consumer/receipts";
import { coTrainingSharesAbi, modelVaultAbi, settlementAbi } from "../../sdk/generated/abis";
import { ensureBaseModel, getModel, registerModelWithSigners } from "../../sdk/integrator/models";
import { claimRewards } from "../../sdk/investor/rewards";
import { depositToVault, getVaultState } from "../../sdk/investor/vaults";
import { claimRunnerFees, registerRunner } from "../../sdk/runners";
import { type DevAccount, startDevnet } from "../chain/devnet";
import type { RegistrableAdapter } from "../cli/commands/adapterManifest";
import { USE_LITE } from "../ml/base/useLite/modules";
import { USE_LITE_HASH } from "../ml/base/useLite/useLiteBase";
import { readDataset } from "../ml/training/dataset";
import { loadRunnerConfig } from "../runner/config";
import { type Runner, startRunner } from "../runner/runner";
import { trainDemoModels } from "./models";

export interface DemoOptions {
  /** Paid calls in total, spread over the consumers and both models. */
  calls: number;
  /** Train the adapters now (true) or use the committed, reproducible ones. */
  train: boolean;
  /** Leave the chain and the runner up when done (the caller stops them). */
  keep?: boolean;
  log?(line: string): void;
  /** Passed to the runner (the dashboard hooks in here). */
  runnerEvents?: Parameters<typeof startRunner>[1];
}

const ROLES = {
  admin: 0, // deployer, protocol admin and treasury
  alice: 1, // trains the content filter with bob and carol, registers it
  bob: 2,
  carol: 3,
  dave: 4, // trains and registers the crypto-sentiment model
  runner: 5,
  investors: [6, 7],
  consumers: [8, 9, 10],
} as const;
const UNLOCK_PERIOD = 3_600n;

export interface DemoReport {
  models: { modelId: bigint; name: string; calls: bigint; revenue: bigint; accuracy: number }[];
  contributors: { account: Address; name: string; modelId: bigint; units: bigint; claimed: bigint }[];
  vaults: {
    modelId: bigint;
    vault: Address;
    revenue: bigint;
    stillUnlocking: bigint;
    sharePrice: bigint;
    investors: { account: Address; deposited: bigint; worth: bigint }[];
  }[];
  runner: { address: Address; fees: bigint };
  treasury: { address: Address; fees: bigint };
  protocolFeeBps: bigint;
  consumersPaid: bigint;
  received: bigint;
  settlement: { batches: number; gasUsed: bigint; calls: bigint; gasPerCall: number };
  proof: { requestHash: Hex; sequence: bigint; included: boolean; proofLength: number };
  dashboardUrl: string | null;
  runnerUrl: string;
  rpcUrl: string;
}

function sampleTexts(): { spam: string[]; sentiment: string[] } {
  const spam = readDataset("offchain/ml/data/spam-assassin/emails.jsonl.gz").rows.map((r) =>
    r.text.slice(0, 1_500),
  );
  const sentiment = ["01", "02", "03"].flatMap((n) =>
    readDataset(`offchain/ml/data/crypto-sentiment/batch-${n}.jsonl`).rows.map((r) => r.text),
  );
  return { spam, sentiment };
}

export async function runDemo(options: DemoOptions): Promise<DemoReport & { stop(): Promise<void> }> {
  const log = options.log ?? (() => {});
  const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-demo-"));
  const devnet = await startDevnet({ accounts: 11, env: { PROFIT_UNLOCK_PERIOD: UNLOCK_PERIOD.toString() } });
  let runner: Runner | null = null;
  const stop = async () => {
    await runner?.stop({ settle: false });
    await devnet.stop();
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const account = (index: number) => devnet.accounts[index] as DevAccount;
    const admin = createOpenLoRAClient({
      rpcUrl: devnet.rpcUrl,
      deployment: devnet.deployment,
      account: account(0).privateKey,
    });
    const as = (index: number) => withAccount(admin, account(index).privateKey);
    log(`chain ${devnet.chainId} at ${devnet.rpcUrl}; contracts deployed`);

    // 1. Train.
    const models = await trainDemoModels({ train: options.train, dir: tmp, log });

    // 2. Register the base model and both adapters, every contributor consenting by signature.
    const { baseModelId } = await ensureBaseModel(admin, {
      contentHash: USE_LITE_HASH,
      metadataURI: `openlora:base/${USE_LITE.id}`,
    });
    const registered: {
      modelId: bigint;
      name: string;
      manifest: RegistrableAdapter;
      dir: string;
      owner: number;
      contributors: { index: number; name: string; units: bigint }[];
    }[] = [];
    const specs = [
      {
        ...models.contentFilter,
        owner: ROLES.alice,
        names: ["alice", "bob", "carol"],
        indexes: [ROLES.alice, ROLES.bob, ROLES.carol],
        price: parseUnits("0.002", 6),
        vaultShareBps: 2_000,
      },
      {
        ...models.sentiment,
        owner: ROLES.dave,
        names: ["dave"],
        indexes: [ROLES.dave],
        price: parseUnits("0.005", 6),
        vaultShareBps: 3_000,
      },
    ];
    for (const spec of specs) {
      // Co-training measured each contributor's share; a model trained alone gives its trainer all.
      const measured = spec.manifest.contributors.map((c) => BigInt(c.units));
      const contributors = spec.indexes.map((index, i) => ({
        index,
        name: spec.names[i] as string,
        units: measured[i] ?? 1n,
      }));
      const result = await registerModelWithSigners(
        as(spec.owner),
        {
          adapterHash: spec.manifest.adapter.hash as Hex,
          baseModelId,
          pricePerCall: spec.price,
          vaultShareBps: spec.vaultShareBps,
          metadataURI: `openlora:adapter/${spec.manifest.name}`,
          datasetHashes: spec.manifest.datasets.map((d) => d.hash as Hex),
        },
        contributors.map((c) => ({ account: account(c.index).address, units: c.units })),
        contributors.map((c) => privateKeyToAccount(account(c.index).privateKey)),
      );
      registered.push({
        modelId: result.modelId,
        name: spec.manifest.name,
        manifest: spec.manifest,
        dir: spec.dir,
        owner: spec.owner,
        contributors,
      });
      log(`registered model ${result.modelId} (${spec.manifest.name}) with vault ${result.vault}`);
    }

    // 3. A staked runner serves both adapters from one base-model session.
    const runnerClient = as(ROLES.runner);
    await registerRunner(runnerClient, { endpoint: "http://127.0.0.1", feeBps: 1_000 });
    const deploymentsFile = path.join(tmp, "deployment.json");
    writeFileSync(deploymentsFile, JSON.stringify(devnet.deployment));
    runner = await startRunner(
      loadRunnerConfig({
        env: { OPENLORA_RUNNER_KEY: account(ROLES.runner).privateKey },
        flags: {
          rpcUrl: devnet.rpcUrl,
          deployments: deploymentsFile,
          port: 0,
          dataDir: path.join(tmp, "runner"),
          adapters: registered.map((m) => m.dir),
          settlement: { intervalMs: 3_600_000, confirmations: 0 },
        },
      }),
      options.runnerEvents ?? {},
      pino({ level: "warn" }),
    );
    log(`runner ${runner.address} serving at ${runner.url}`);

    // 4. Two investors back the models through their vaults.
    for (const [i, investor] of ROLES.investors.entries()) {
      for (const model of registered) {
        await depositToVault(
          as(investor),
          { modelId: model.modelId },
          parseUnits(i === 0 ? "500" : "250", 6),
        );
      }
    }

    // 5. Paid calls from several consumers across the models.
    const texts = sampleTexts();
    const receipts: PaidReceipt[] = [];
    const perLane = Math.max(1, Math.floor(options.calls / (ROLES.consumers.length * registered.length)));
    const lanes = await Promise.all(
      ROLES.consumers.map(async (index) => {
        const client = as(index);
        const { channelId } = await openChannel(client, {
          runner: runner?.address as Address,
          amount: parseUnits("100", 6),
        });
        return { client, channelId };
      }),
    );
    const started = performance.now();
    await Promise.all(
      lanes.flatMap(({ client, channelId }, c) =>
        registered.map(async (model, m) => {
          const pay = paidFetch(client, { channelId, onReceipt: (paid) => receipts.push(paid) });
          const pool = m === 0 ? texts.spam : texts.sentiment;
          for (let i = 0; i < perLane; i++) {
            const text = pool[(i * 7 + c * 131) % pool.length] as string;
            const body = JSON.stringify({
              inputs: [{ name: "text", datatype: "BYTES", shape: [1], data: [text] }],
            });
            const res = await pay(`${runner?.url}/v2/models/${model.modelId}/infer`, {
              method: "POST",
              body,
            });
            if (res.status !== 200) throw new Error(`paid call failed: ${res.status} ${await res.text()}`);
            await res.arrayBuffer();
          }
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    log(
      `${receipts.length} paid calls in ${seconds.toFixed(1)} s (${Math.round(receipts.length / seconds)} calls/s)`,
    );

    // 6. Settle everything in batches, flush the models' pending revenue into their vaults and
    //    to their holders (the runner does it on a slow schedule; here at once); let part of the
    //    vault revenue unlock.
    const batches = await runner.settler.settleAll();
    let gasUsed = 0n;
    for (const batch of batches) {
      gasUsed += (await admin.publicClient.getTransactionReceipt({ hash: batch.txHash })).gasUsed;
    }
    // The flush is part of what settling costs: its gas counts with the batches'.
    const flushed = await runner.settler.flushPendingRevenue();
    gasUsed += flushed?.gasUsed ?? 0n;
    await admin.publicClient.request({
      method: "evm_increaseTime" as never,
      params: [Number(UNLOCK_PERIOD / 3n)] as never,
    });
    await admin.publicClient.request({ method: "evm_mine" as never, params: [] as never });

    // 7. Everyone collects: contributors claim, the runner and the treasury take their fees.
    const contributors: DemoReport["contributors"] = [];
    for (const model of registered) {
      for (const c of model.contributors) {
        const { amount } = await claimRewards(as(c.index), [model.modelId]);
        contributors.push({
          account: account(c.index).address,
          name: c.name,
          modelId: model.modelId,
          units: c.units,
          claimed: amount,
        });
      }
    }
    const settlement = { address: devnet.deployment.settlement, abi: settlementAbi } as const;
    const { amount: runnerFees } = await claimRunnerFees(runnerClient);
    const protocolFees = await admin.publicClient.readContract({
      ...settlement,
      functionName: "protocolFeesAccrued",
    });
    const treasury = await admin.publicClient.readContract({ ...settlement, functionName: "treasury" });

    // 8. The report, every figure read from the chain.
    const report = await buildReport({
      admin,
      registered,
      contributors,
      runner,
      devnet,
      lanes,
      receipts,
      batches,
      gasUsed,
      runnerFees,
      protocolFees,
      treasury,
      investors: ROLES.investors.map((i) => account(i).address),
    });
    if (!options.keep) await stop();
    return { ...report, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface ReportInputs {
  admin: OpenLoRAClient;
  registered: { modelId: bigint; name: string; manifest: RegistrableAdapter }[];
  contributors: DemoReport["contributors"];
  runner: Runner;
  devnet: { rpcUrl: string; deployment: OpenLoRAClient["deployment"] };
  lanes: { channelId: bigint }[];
  receipts: PaidReceipt[];
  batches: { txHash: Hex }[];
  gasUsed: bigint;
  runnerFees: bigint;
  protocolFees: bigint;
  treasury: Address;
  investors: Address[];
}

async function buildReport(input: ReportInputs): Promise<DemoReport> {
  const { admin, runner } = input;
  const read = admin.publicClient;
  const shares = { address: admin.deployment.coTrainingShares, abi: coTrainingSharesAbi } as const;
  const models: DemoReport["models"] = [];
  const vaults: DemoReport["vaults"] = [];
  let credited = 0n;
  let vaultRevenue = 0n;
  for (const model of input.registered) {
    const info = await getModel(admin, model.modelId);
    models.push({
      modelId: model.modelId,
      name: model.name,
      calls: info.totalCalls,
      revenue: info.totalRevenue,
      accuracy: model.manifest.heldOutAccuracy ?? Number.NaN,
    });
    credited += await read.readContract({ ...shares, functionName: "totalCredited", args: [model.modelId] });
    const vault = await getVaultState(admin, { modelId: model.modelId });
    vaultRevenue += vault.totalRevenue;
    const investors = await Promise.all(
      input.investors.map(async (account) => {
        const balance = await read.readContract({
          address: vault.vault,
          abi: modelVaultAbi,
          functionName: "balanceOf",
          args: [account],
        });
        const worth = await read.readContract({
          address: vault.vault,
          abi: modelVaultAbi,
          functionName: "previewRedeem",
          args: [balance],
        });
        return { account, balance, worth };
      }),
    );
    vaults.push({
      modelId: model.modelId,
      vault: vault.vault,
      revenue: vault.totalRevenue,
      stillUnlocking: vault.lockedRevenue,
      sharePrice: vault.sharePrice,
      investors: investors.map(({ account, worth }, i) => ({
        account,
        deposited: i === 0 ? parseUnits("500", 6) : parseUnits("250", 6),
        worth,
      })),
    });
  }
  let consumersPaid = 0n;
  for (const { channelId } of input.lanes) consumersPaid += (await getChannel(admin, channelId)).paid;

  const sample = input.receipts[Math.floor(input.receipts.length / 2)] as PaidReceipt;
  const proof = await runner.settler.proof(sample.receipt.requestHash);
  if (!proof) throw new Error("the sampled receipt is in no settled batch");
  const inclusion = await verifyReceiptInclusion(admin, proof, sample.receiptSignature);
  const calls = models.reduce((sum, m) => sum + m.calls, 0n);
  return {
    models,
    contributors: input.contributors,
    vaults,
    runner: { address: runner.address, fees: input.runnerFees },
    treasury: { address: input.treasury, fees: input.protocolFees },
    protocolFeeBps: BigInt(
      await read.readContract({
        address: admin.deployment.settlement,
        abi: settlementAbi,
        functionName: "protocolFeeBps",
      }),
    ),
    consumersPaid,
    received: credited + vaultRevenue + input.runnerFees + input.protocolFees,
    settlement: {
      batches: input.batches.length,
      gasUsed: input.gasUsed,
      calls,
      gasPerCall: Number(input.gasUsed) / Number(calls),
    },
    proof: {
      requestHash: sample.receipt.requestHash,
      sequence: proof.sequence,
      included: inclusion.included && inclusion.locallyVerified && inclusion.signatureValid === true,
      proofLength: proof.proof.length,
    },
    dashboardUrl: `${runner.url}/dashboard`,
    runnerUrl: runner.url,
    rpcUrl: input.devnet.rpcUrl,
  };
}

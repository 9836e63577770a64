/**
 * Differential tests: the SDK's off-chain math (unlocking, share conversion, reward-per-unit
 * accrual) against the deployed contracts on anvil, step by step through the same histories.
 * The revenue split is checked against real settlements in sdk/consumer/receipts.test.ts.
 */
import { createTestClient, erc20Abi, type Hex, http, keccak256, toBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devnet, startDevnet } from "../../offchain/chain/devnet";
import { createOpenLoRAClient, type OpenLoRAClient, sendTx, withAccount } from "../client";
import { coTrainingSharesAbi, modelVaultAbi, modelVaultFactoryAbi } from "../generated/abis";
import {
  applyTrainingRound,
  ensureBaseModel,
  registerModel,
  registerModelWithSigners,
} from "../integrator/models";
import { claimRewards } from "../investor/rewards";
import { depositToVault, readUnlockState, redeemFromVault } from "../investor/vaults";
import { RewardLedger } from "./rewards";
import {
  convertToAssets,
  convertToShares,
  previewDeposit,
  previewMint,
  previewRedeem,
  previewWithdraw,
} from "./shareConversion";
import * as unlock from "./unlocking";

const PERIOD = 7n * 86_400n;
let devnet: Devnet;
let admin: OpenLoRAClient;
let test: ReturnType<typeof createTestClient>;
let baseModelId: bigint;
const hash = (label: string) => keccak256(toBytes(label));
const key = (i: number) => (devnet.accounts[i] as { privateKey: Hex }).privateKey;
const address = (i: number) => (devnet.accounts[i] as { address: Hex }).address;

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 6, env: { PROFIT_UNLOCK_PERIOD: String(PERIOD) } });
  admin = createOpenLoRAClient({ rpcUrl: devnet.rpcUrl, deployment: devnet.deployment, account: key(0) });
  test = createTestClient({ mode: "anvil", transport: http(devnet.rpcUrl) });
  // The admin plays Settlement: it may push revenue into vaults and shares directly.
  const role = keccak256(toBytes("SETTLEMENT_ROLE"));
  for (const [contract, abi] of [
    [devnet.deployment.modelVaultFactory, modelVaultFactoryAbi],
    [devnet.deployment.coTrainingShares, coTrainingSharesAbi],
  ] as const) {
    await sendTx(admin, "grantRole", {
      address: contract,
      abi,
      functionName: "grantRole",
      args: [role, address(0)],
    });
  }
  baseModelId = (await ensureBaseModel(admin, { contentHash: hash("base"), metadataURI: "" })).baseModelId;
});

afterAll(async () => {
  await devnet?.stop();
});

/** Mines the next transaction (or an empty block) at exactly `t`. */
async function at(t: bigint) {
  await test.setNextBlockTimestamp({ timestamp: t });
}

async function latest(): Promise<bigint> {
  return (await admin.publicClient.getBlock()).timestamp;
}

async function pushVaultRevenue(vault: Hex, amount: bigint, t: bigint) {
  await sendTx(admin, "transfer", {
    address: devnet.deployment.paymentAsset,
    abi: erc20Abi,
    functionName: "transfer",
    args: [vault, amount],
  });
  await at(t);
  await sendTx(admin, "receiveRevenue", {
    address: vault,
    abi: modelVaultAbi,
    functionName: "receiveRevenue",
    args: [amount],
  });
}

describe("unlocking and share conversion vs ModelVault", () => {
  it("predicts totalAssets, lockedRevenue and every preview through a history of deposits, revenue and redemptions", async () => {
    const { vault } = await registerModel(
      admin,
      {
        adapterHash: hash("vault-model"),
        baseModelId,
        pricePerCall: 1n,
        vaultShareBps: 5_000,
        metadataURI: "",
        datasetHashes: [],
      },
      [{ account: address(0), units: 1n, nonce: 0n, deadline: 0n, signature: "0x" }],
    );
    const v = { address: vault, abi: modelVaultAbi } as const;
    const alice = withAccount(admin, key(1));
    const bob = withAccount(admin, key(2));
    const t0 = (await latest()) + 100n;
    // A new vault: nothing stored or locked, its line starting and ending at its creation.
    const created = await readUnlockState(admin, vault);
    let mirror: unlock.UnlockState = {
      storedAssets: 0n,
      locked: 0n,
      lockStart: created.timestamp,
      lockEnd: created.timestamp,
      totalSupply: 0n,
    };

    const check = async (label: string) => {
      const t = await latest();
      const totals = { totalAssets: unlock.totalAssetsAt(mirror, t), totalSupply: mirror.totalSupply };
      const read = (functionName: "totalAssets" | "lockedRevenue" | "totalSupply") =>
        admin.publicClient.readContract({ ...v, functionName });
      expect(await read("totalAssets"), `${label}: totalAssets`).toBe(totals.totalAssets);
      expect(await read("lockedRevenue"), `${label}: lockedRevenue`).toBe(unlock.lockedRevenueAt(mirror, t));
      expect(await read("totalSupply"), `${label}: totalSupply`).toBe(mirror.totalSupply);
      const { timestamp: _, ...stored } = await readUnlockState(admin, vault);
      expect(stored, `${label}: storage`).toEqual(mirror);
      for (const amount of [1n, 999n, 1_234_567n, 10n ** 12n + 7n]) {
        const call = (
          functionName:
            | "convertToShares"
            | "convertToAssets"
            | "previewDeposit"
            | "previewMint"
            | "previewWithdraw"
            | "previewRedeem",
        ) => admin.publicClient.readContract({ ...v, functionName, args: [amount] });
        expect(await call("convertToShares"), `${label}: convertToShares(${amount})`).toBe(
          convertToShares(amount, totals),
        );
        expect(await call("convertToAssets")).toBe(convertToAssets(amount, totals));
        expect(await call("previewDeposit")).toBe(previewDeposit(amount, totals));
        expect(await call("previewMint")).toBe(previewMint(amount, totals));
        expect(await call("previewWithdraw")).toBe(previewWithdraw(amount, totals));
        expect(await call("previewRedeem")).toBe(previewRedeem(amount, totals));
      }
    };

    // Revenue for a vault nobody backs is refused (Settlement gives that share to the holders):
    // the contract and the mirror agree, and nothing waits there for a first depositor.
    await expect(pushVaultRevenue(vault, 70_000n, t0)).rejects.toThrow(/ModelVault_NoShares|reverted/);
    expect(() => unlock.receiveRevenue(mirror, 70_000n, t0, PERIOD)).toThrow(unlock.EmptyVaultRevenueError);
    await at(t0 + 86_400n);
    await test.mine({ blocks: 1 });
    await check("no shares yet");

    const t1 = t0 + 2n * 86_400n;
    await sendTx(alice, "approve", {
      address: devnet.deployment.paymentAsset,
      abi: erc20Abi,
      functionName: "approve",
      args: [vault, 10n ** 18n],
    });
    let totals = { totalAssets: unlock.totalAssetsAt(mirror, t1), totalSupply: mirror.totalSupply };
    const aliceShares = previewDeposit(1_000_003n, totals);
    await at(t1);
    const deposited = await depositToVault(alice, { vault }, 1_000_003n);
    expect(deposited.shares).toBe(aliceShares);
    mirror = unlock.deposit(mirror, 1_000_003n, aliceShares, t1);
    await check("after the first deposit");

    await pushVaultRevenue(vault, 70_000n, t1 + 100n);
    mirror = unlock.receiveRevenue(mirror, 70_000n, t1 + 100n, PERIOD);
    await check("first revenue");

    await at(t1 + 12_345n);
    await test.mine({ blocks: 1 });
    await check("unlocking");

    const t2 = t1 + 3n * 86_400n + 17n;
    await pushVaultRevenue(vault, 33_333n, t2);
    mirror = unlock.receiveRevenue(mirror, 33_333n, t2, PERIOD);
    await check("second revenue merged");

    // Bob approves ahead, as Alice did: otherwise depositToVault mines his approval at t3 and the
    // deposit a block later, at t3 or t3 + 1 as the wall clock has moved on meanwhile.
    await sendTx(bob, "approve", {
      address: devnet.deployment.paymentAsset,
      abi: erc20Abi,
      functionName: "approve",
      args: [vault, 10n ** 18n],
    });
    const t3 = t2 + 5_000n;
    totals = { totalAssets: unlock.totalAssetsAt(mirror, t3), totalSupply: mirror.totalSupply };
    const bobShares = previewDeposit(777_777n, totals);
    await at(t3);
    expect((await depositToVault(bob, { vault }, 777_777n)).shares).toBe(bobShares);
    mirror = unlock.deposit(mirror, 777_777n, bobShares, t3);
    await check("second depositor");

    const t4 = t3 + 86_400n;
    totals = { totalAssets: unlock.totalAssetsAt(mirror, t4), totalSupply: mirror.totalSupply };
    const half = aliceShares / 2n;
    const assets = previewRedeem(half, totals);
    await at(t4);
    const redeemed = await redeemFromVault(alice, { vault }, half);
    expect(redeemed.assets).toBe(assets);
    mirror = unlock.withdraw(mirror, assets, half, t4);
    await check("partial redemption");

    // Everyone leaves while revenue is still locked: it goes to the holders, none stays behind.
    const t5 = t4 + 3_600n;
    const last = [
      [alice, aliceShares - half],
      [bob, bobShares],
    ] as const;
    for (const [i, [who, sharesLeft]] of last.entries()) {
      const t = t5 + BigInt(i);
      totals = { totalAssets: unlock.totalAssetsAt(mirror, t), totalSupply: mirror.totalSupply };
      const out = previewRedeem(sharesLeft, totals);
      await at(t);
      expect((await redeemFromVault(who, { vault }, sharesLeft)).assets).toBe(out);
      mirror = unlock.withdraw(mirror, out, sharesLeft, t);
    }
    expect(mirror.locked).toBe(0n);
    await check("everyone left");

    await at(t5 + PERIOD * 2n);
    await test.mine({ blocks: 1 });
    await check("nothing left to unlock");
    expect(unlock.lockedRevenueAt(mirror, t5 + PERIOD * 2n)).toBe(0n);
  });
});

describe("reward-per-unit accrual vs CoTrainingShares", () => {
  it("predicts rewardPerUnit and every holder's claimable through credits, a training round and claims", async () => {
    const contributors = [
      { account: address(3), units: 3n },
      { account: address(4), units: 5n },
      { account: address(5), units: 7n },
    ];
    const owner = withAccount(admin, key(3));
    const { modelId } = await registerModelWithSigners(
      owner,
      {
        adapterHash: hash("rewards-model"),
        baseModelId,
        pricePerCall: 1n,
        vaultShareBps: 0,
        metadataURI: "",
        datasetHashes: [],
      },
      contributors,
      [privateKeyToAccount(key(4)), privateKeyToAccount(key(5))],
    );
    const shares = { address: devnet.deployment.coTrainingShares, abi: coTrainingSharesAbi } as const;
    const ledger = new RewardLedger(Object.fromEntries(contributors.map((c) => [c.account, c.units])));
    const credit = async (amount: bigint) => {
      await sendTx(admin, "transfer", {
        address: devnet.deployment.paymentAsset,
        abi: erc20Abi,
        functionName: "transfer",
        args: [shares.address, amount],
      });
      await sendTx(admin, "creditRevenue", {
        ...shares,
        functionName: "creditRevenue",
        args: [modelId, amount],
      });
      ledger.credit(amount);
    };
    const check = async (label: string) => {
      expect(
        await admin.publicClient.readContract({ ...shares, functionName: "rewardPerUnit", args: [modelId] }),
        label,
      ).toBe(ledger.rewardPerUnit);
      for (const c of [...contributors, { account: address(1) }]) {
        const onChain = await admin.publicClient.readContract({
          ...shares,
          functionName: "claimable",
          args: [modelId, c.account],
        });
        expect(onChain, `${label}: claimable of ${c.account}`).toBe(ledger.claimable(c.account));
      }
    };

    for (const amount of [10n, 1n, 7n, 1_000_003n]) {
      await credit(amount);
      await check(`after crediting ${amount}`);
    }
    expect(ledger.dust()).toBeLessThan(3n);

    // A claim by one holder, then a round that moves units: earnings so far stay put.
    const paid = await claimRewards(withAccount(admin, key(4)), [modelId]);
    expect(paid.amount).toBe(ledger.claim(address(4)));
    await check("after a claim");
    await applyTrainingRound(
      owner,
      modelId,
      [
        { account: address(1), toUnits: 4n },
        { account: address(5), toUnits: 2n },
      ],
      [privateKeyToAccount(key(1)), privateKeyToAccount(key(5))],
    );
    ledger.setUnits(address(1), 4n);
    ledger.setUnits(address(5), 2n);
    for (const amount of [13n, 999_999n]) {
      await credit(amount);
      await check(`after the round, crediting ${amount}`);
    }
  });
});

import { createTestClient, erc20Abi, type Hex, http, keccak256, toBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devnet, startDevnet } from "../../offchain/chain/devnet";
import { createOpenLoRAClient, type OpenLoRAClient, sendTx, withAccount } from "../client";
import { ContractRevertError, InvalidArgumentError } from "../errors";
import { coTrainingSharesAbi, modelVaultAbi, modelVaultFactoryAbi } from "../generated/abis";
import { ensureBaseModel, registerModel } from "../integrator/models";
import { balanceOf } from "../token";
import { claimableRewards, claimRewards } from "./rewards";
import {
  depositToVault,
  getVaultState,
  previewYield,
  redeemFromVault,
  vaultOf,
  vaultPositions,
  withdrawFromVault,
} from "./vaults";

const DAY = 86_400n;
let devnet: Devnet;
let admin: OpenLoRAClient;
let investor: OpenLoRAClient;
let test: ReturnType<typeof createTestClient>;
const models: bigint[] = [];
const hash = (label: string) => keccak256(toBytes(label));
const key = (i: number) => (devnet.accounts[i] as { privateKey: Hex }).privateKey;
const address = (i: number) => (devnet.accounts[i] as { address: Hex }).address;

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 3 });
  admin = createOpenLoRAClient({ rpcUrl: devnet.rpcUrl, deployment: devnet.deployment, account: key(0) });
  investor = withAccount(admin, key(1));
  test = createTestClient({ mode: "anvil", transport: http(devnet.rpcUrl) });
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
  const { baseModelId } = await ensureBaseModel(admin, { contentHash: hash("base"), metadataURI: "" });
  for (const name of ["a", "b"]) {
    const { modelId } = await registerModel(
      admin,
      {
        adapterHash: hash(name),
        baseModelId,
        pricePerCall: 1n,
        vaultShareBps: 2_000,
        metadataURI: "",
        datasetHashes: [],
      },
      [{ account: address(0), units: 1n, nonce: 0n, deadline: 0n, signature: "0x" }],
    );
    models.push(modelId);
  }
});

afterAll(async () => {
  await devnet?.stop();
});

async function pay(to: Hex, amount: bigint) {
  await sendTx(admin, "transfer", {
    address: devnet.deployment.paymentAsset,
    abi: erc20Abi,
    functionName: "transfer",
    args: [to, amount],
  });
}

describe("vaults", () => {
  it("deposits, previews the yield still unlocking, and redeems what was predicted", async () => {
    const modelId = models[0] as bigint;
    const vault = await vaultOf(admin, modelId);
    const before = await balanceOf(admin, address(1));
    const { shares } = await depositToVault(investor, { modelId }, 2_000_000n);
    expect(shares).toBe(2_000_000n * 10n ** 6n);
    expect((await getVaultState(admin, { vault })).sharePrice).toBe(1_000_000n);

    await pay(vault, 140_000n);
    await sendTx(admin, "receiveRevenue", {
      address: vault,
      abi: modelVaultAbi,
      functionName: "receiveRevenue",
      args: [140_000n],
    });
    const state = await getVaultState(admin, { vault });
    expect(state.lockedRevenue).toBe(140_000n);
    expect(state.totalRevenue).toBe(140_000n);

    const halfway = state.timestamp + (7n * DAY) / 2n;
    const preview = await previewYield(investor, { modelId }, { at: halfway, account: address(1) });
    expect(preview.now.totalAssets).toBe(2_000_000n);
    expect(preview.at.totalAssets).toBe(2_070_000n);
    expect(preview.at.lockedRevenue).toBe(70_000n);
    expect(preview.position?.assetsNow).toBe(2_000_000n);
    const full = await previewYield(investor, { modelId }, { account: address(1) });
    expect(full.at.timestamp).toBe(full.unlockEnd);
    expect(full.at.lockedRevenue).toBe(0n);

    await test.setNextBlockTimestamp({ timestamp: halfway });
    await test.mine({ blocks: 1 });
    const now = await getVaultState(admin, { vault });
    expect(now.totalAssets).toBe(preview.at.totalAssets);
    expect(now.sharePrice).toBe(preview.at.sharePrice);
    expect(await vaultPositions(admin, address(1), models)).toEqual([
      { vault, modelId, shares, assets: preview.position?.assetsAt },
    ]);

    await test.setNextBlockTimestamp({ timestamp: halfway });
    const withdrawn = await withdrawFromVault(investor, { vault }, 1_000_000n);
    expect(withdrawn.assets).toBe(1_000_000n);
    const redeemed = await redeemFromVault(investor, { modelId }, "all");
    expect(redeemed.shares).toBe(shares - withdrawn.shares);
    expect(await balanceOf(admin, address(1))).toBe(before - 2_000_000n + 1_000_000n + redeemed.assets);
    expect(redeemed.assets + 1_000_000n).toBeGreaterThan(2_069_000n);
    // The vault is empty again: the half still locked went to the model's holders, not to whoever
    // deposits next (see docs/contracts/ModelVault.md).
    expect((await getVaultState(admin, { vault })).lockedRevenue).toBe(0n);
    const [released] = await claimableRewards(admin, address(0), [modelId]);
    expect(released?.claimable).toBe(70_000n);
    expect((await claimRewards(admin, [modelId])).amount).toBe(70_000n);
  });

  it("refuses what cannot work, with the contract's reason", async () => {
    await expect(depositToVault(investor, { modelId: 99n }, 1n)).rejects.toThrow(/model 99 has no vault/);
    await expect(depositToVault(investor, { modelId: models[1] as bigint }, 0n)).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(redeemFromVault(investor, { modelId: models[1] as bigint }, "all")).rejects.toThrow(
      /nothing to redeem/,
    );
    const error = await redeemFromVault(investor, { modelId: models[1] as bigint }, 5n).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ContractRevertError);
    expect((error as ContractRevertError).errorName).toBe("ERC4626ExceededMaxRedeem");
  });
});

describe("rewards", () => {
  it("claims from several models in one transfer and reports each", async () => {
    const shares = { address: devnet.deployment.coTrainingShares, abi: coTrainingSharesAbi } as const;
    for (const [i, modelId] of models.entries()) {
      await pay(shares.address, 1_000n * BigInt(i + 1));
      await sendTx(admin, "creditRevenue", {
        ...shares,
        functionName: "creditRevenue",
        args: [modelId, 1_000n * BigInt(i + 1)],
      });
    }
    expect(await claimableRewards(admin, address(0), models)).toEqual([
      { modelId: models[0], units: 1n, totalUnits: 1n, claimable: 1_000n },
      { modelId: models[1], units: 1n, totalUnits: 1n, claimable: 2_000n },
    ]);
    const before = await balanceOf(admin, address(0));
    const claimed = await claimRewards(admin, models);
    expect(claimed.amount).toBe(3_000n);
    expect(claimed.perModel).toEqual([
      { modelId: models[0], amount: 1_000n },
      { modelId: models[1], amount: 2_000n },
    ]);
    expect(await balanceOf(admin, address(0))).toBe(before + 3_000n);
    const nothing = await claimRewards(admin, [models[0] as bigint]);
    expect(nothing).toMatchObject({ amount: 0n, perModel: [] });
    await expect(claimRewards(admin, [])).rejects.toThrow(/at least one model/);
  });
});

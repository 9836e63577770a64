// The dashboard hub against a real anvil: what only the page shows (a vault's figures) is read
// when someone looks, not after every change nobody watches; what splits a call's price (the
// runner's fee rate) is read on every poll, watched or not.
import pino from "pino";
import { type Address, isAddressEqual, type PublicClient } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelRegistryAbi, modelVaultAbi, runnerRegistryAbi, testUsdAbi } from "../../sdk/generated/abis";
import { landeBaseModel } from "../ml/base/baseModel";
import { ChainModelCatalog } from "../runner/chain";
import {
  deployProtocol,
  devAccount,
  fund,
  type Protocol,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "../runner/testing/protocolFixture";
import { DashboardHub } from "./hub";

const owner = devAccount(1);
const runnerAccount = devAccount(3);
const investor = devAccount(6);
const DEPOSIT = 1_000_000n;
const POLL_MS = 100;

let p: Protocol;
let hub: DashboardHub;
let vault: Address;
/** Addresses of the hub's view calls, in order. */
const reads: Address[] = [];

/** The chain's client, with every readContract's address noted. */
function countingClient(client: PublicClient): PublicClient {
  return {
    ...client,
    readContract: ((request: { address: Address }) => {
      reads.push(request.address);
      return client.readContract(request as never);
    }) as PublicClient["readContract"],
  };
}

const vaultReads = () => reads.filter((address) => isAddressEqual(address, vault)).length;
const shownVault = (snapshot: { models: { vault: { totalAssets: bigint | string } | null }[] }) =>
  BigInt(snapshot.models[0]?.vault?.totalAssets ?? -1);

/** Deposits into the model's vault; returns the block it landed in. */
async function deposit(): Promise<bigint> {
  await p.write(investor, {
    address: vault,
    abi: modelVaultAbi,
    functionName: "deposit",
    args: [DEPOSIT, investor.address],
  } as never);
  return p.publicClient.getBlockNumber({ cacheTime: 0 });
}

/** Waits until the hub has polled `block`: its logs handled and what they mark for a split read. */
async function polled(block: bigint): Promise<void> {
  await expect
    .poll(() => (hub.snapshot().block ?? -1n) >= block, { timeout: 10_000, interval: 50 })
    .toBe(true);
}

let baseModel: bigint;
const newHub = (publicClient: PublicClient) =>
  new DashboardHub({
    publicClient,
    deployment: p.deployment,
    runner: runnerAccount.address,
    chainId: p.anvil.chainId,
    catalog: new ChainModelCatalog(p.publicClient, p.deployment.modelRegistry, baseModel, "all", 60_000),
    settler: { settledBatches: [], settled: { batches: 0 }, pendingCalls: 0 },
    log: pino({ level: "silent" }),
    pollMs: POLL_MS,
  });

describe("dashboard hub", () => {
  beforeAll(async () => {
    p = await deployProtocol();
    const baseModelId = await registerBaseModel(p, landeBaseModel().hash);
    const modelId = await registerAdapter(
      p,
      owner,
      { baseModelId, adapterHash: `0x${"ab".repeat(32)}`, pricePerCall: 10_000n, vaultShareBps: 2_000 },
      [{ account: owner, units: 1n }],
    );
    await registerRunner(p, runnerAccount, "http://127.0.0.1", 500);
    const model = (await p.publicClient.readContract({
      address: p.deployment.modelRegistry,
      abi: modelRegistryAbi,
      functionName: "getModel",
      args: [modelId],
    })) as { vault: Address };
    vault = model.vault;
    await fund(p, investor.address, 10n * DEPOSIT);
    await p.write(investor, {
      address: p.deployment.paymentAsset,
      abi: testUsdAbi,
      functionName: "approve",
      args: [vault, 10n * DEPOSIT],
    } as never);

    baseModel = baseModelId;
    hub = newHub(countingClient(p.publicClient));
    hub.start();
  });

  afterAll(async () => {
    hub?.stop();
    await p?.stop();
  });

  it("answers the state asked for right after start with the chain's history, not empty counters", async () => {
    const fresh = newHub(p.publicClient);
    fresh.start();
    try {
      const state = JSON.parse(await fresh.state(10_000));
      expect(state.block).not.toBeNull();
      expect(state.stages.registered.count).toBe(1);
      expect(state.models).toHaveLength(1);
      expect(state.models[0].vault).not.toBeNull();
      expect(state.asset.symbol).not.toBe("");
    } finally {
      fresh.stop();
    }
  });

  it("reads a vault's figures when someone looks, and the fee rates on every poll", async () => {
    await expect
      .poll(() => hub.snapshot().models[0]?.vault !== null && hub.snapshot().models.length === 1)
      .toBe(true);
    expect(shownVault(hub.snapshot())).toBe(0n);
    reads.length = 0;
    await polled(await deposit());
    // Nobody looks: the vault's log is noted, its views are not called.
    expect(vaultReads()).toBe(0);
    expect(shownVault(hub.snapshot())).toBe(0n);

    // The runner's fee rate splits every call's price: it is read with nobody looking.
    await p.write(runnerAccount, {
      address: p.deployment.runnerRegistry,
      abi: runnerRegistryAbi,
      functionName: "setFeeBps",
      args: [700],
    } as never);
    await expect.poll(() => hub.snapshot().fees?.runnerFeeBps, { timeout: 10_000 }).toBe(700n);
    expect(vaultReads()).toBe(0);

    // Asking for the state reads what it shows first.
    expect(shownVault(JSON.parse(await hub.state()))).toBe(DEPOSIT);
    expect(vaultReads()).toBeGreaterThan(0);

    // A page that subscribes gets the figures that changed while nobody looked, without asking.
    await polled(await deposit());
    expect(shownVault(hub.snapshot())).toBe(DEPOSIT);
    const pushed: bigint[] = [];
    const unsubscribe = hub.subscribe((event, json) => {
      if (event === "snapshot") pushed.push(shownVault(JSON.parse(json)));
    });
    try {
      expect(pushed[0]).toBe(DEPOSIT);
      await expect.poll(() => pushed.at(-1), { timeout: 10_000 }).toBe(2n * DEPOSIT);
      // While it listens, changes are read as they come.
      await deposit();
      await expect.poll(() => pushed.at(-1), { timeout: 10_000 }).toBe(3n * DEPOSIT);
    } finally {
      unsubscribe();
    }
  });
});

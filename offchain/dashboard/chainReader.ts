/**
 * What the dashboard reads from the chain with views: a model's terms and settled usage, its
 * share holders and what each can claim, its vault, and the fee settings and ledgers of the
 * runner. Every figure the page shows as "on-chain" comes from here or from events.
 */
import { type Address, erc20Abi, type Hex, type PublicClient } from "viem";
import type { Deployment } from "../../sdk/deployments";
import {
  coTrainingSharesAbi,
  modelRegistryAbi,
  modelVaultAbi,
  runnerRegistryAbi,
  settlementAbi,
} from "../../sdk/generated/abis";
import type { Receipt } from "../../sdk/protocol/typedData";

export const MODEL_STATUS = ["none", "active", "paused", "retired"] as const;

export interface ModelOnChain {
  owner: Address;
  trainer: Address;
  status: (typeof MODEL_STATUS)[number];
  vault: Address;
  pricePerCall: bigint;
  vaultShareBps: number;
  totalCalls: bigint;
  totalRevenue: bigint;
  metadataURI: string;
}

export interface Holder {
  account: Address;
  units: bigint;
  claimable: bigint;
}

export interface HoldersOnChain {
  holders: Holder[];
  totalUnits: bigint;
  totalCredited: bigint;
  totalClaimed: bigint;
}

export interface VaultOnChain {
  address: Address;
  totalAssets: bigint;
  totalSupply: bigint;
  /** Revenue received and still unlocking (not yet in totalAssets). */
  lockedRevenue: bigint;
  /** Unix seconds when all locked revenue will have unlocked. */
  unlockEnd: bigint;
  totalRevenue: bigint;
  /** Asset base units one whole share redeems for now. */
  sharePrice: bigint;
  /** The timestamp (unix seconds) of the block these figures were read at: the chain's "now". */
  readAt: bigint;
}

export interface FeesOnChain {
  protocolFeeBps: bigint;
  runnerFeeBps: bigint;
  runnerFeesAccrued: bigint;
  protocolFeesAccrued: bigint;
  /** Batches this runner settled, and their cumulative amount. */
  batchCount: bigint;
  settledAmount: bigint;
  /** Models in the registry. */
  modelCount: bigint;
}

export class ChainReader {
  private readonly shareDecimals = new Map<Address, number>();

  constructor(
    private readonly client: PublicClient,
    private readonly deployment: Deployment,
    private readonly runner: Address,
  ) {}

  async asset(): Promise<{ symbol: string; decimals: number }> {
    const token = { address: this.deployment.paymentAsset, abi: erc20Abi } as const;
    const [symbol, decimals] = await Promise.all([
      this.client.readContract({ ...token, functionName: "symbol" }),
      this.client.readContract({ ...token, functionName: "decimals" }),
    ]);
    return { symbol, decimals };
  }

  /** Usage counts what Settlement still holds for the model (pending a flush) with the registry's. */
  async model(modelId: bigint): Promise<ModelOnChain> {
    const [m, [pendingCalls, pendingRevenue]] = await Promise.all([
      this.client.readContract({
        address: this.deployment.modelRegistry,
        abi: modelRegistryAbi,
        functionName: "getModel",
        args: [modelId],
      }),
      this.client.readContract({
        address: this.deployment.settlement,
        abi: settlementAbi,
        functionName: "pendingOf",
        args: [modelId],
      }),
    ]);
    return {
      owner: m.owner,
      trainer: m.trainer,
      status: MODEL_STATUS[m.status] ?? "none",
      vault: m.vault,
      pricePerCall: m.pricePerCall,
      vaultShareBps: m.vaultShareBps,
      totalCalls: m.totalCalls + pendingCalls,
      totalRevenue: m.totalRevenue + pendingRevenue,
      metadataURI: m.metadataURI,
    };
  }

  async holders(modelId: bigint): Promise<HoldersOnChain> {
    const shares = { address: this.deployment.coTrainingShares, abi: coTrainingSharesAbi } as const;
    const [[accounts, units], totalCredited, totalClaimed] = await Promise.all([
      this.client.readContract({ ...shares, functionName: "holdersOf", args: [modelId] }),
      this.client.readContract({ ...shares, functionName: "totalCredited", args: [modelId] }),
      this.client.readContract({ ...shares, functionName: "totalClaimed", args: [modelId] }),
    ]);
    const claimable = await Promise.all(
      accounts.map((account) =>
        this.client.readContract({ ...shares, functionName: "claimable", args: [modelId, account] }),
      ),
    );
    const holders = accounts.map((account, i) => ({
      account,
      units: units[i] as bigint,
      claimable: claimable[i] as bigint,
    }));
    holders.sort((a, b) => (a.units === b.units ? 0 : a.units > b.units ? -1 : 1));
    return { holders, totalUnits: units.reduce((sum, u) => sum + u, 0n), totalCredited, totalClaimed };
  }

  async vault(address: Address): Promise<VaultOnChain> {
    const vault = { address, abi: modelVaultAbi } as const;
    let decimals = this.shareDecimals.get(address);
    if (decimals === undefined) {
      decimals = await this.client.readContract({ ...vault, functionName: "decimals" });
      this.shareDecimals.set(address, decimals);
    }
    const blockNumber = await this.client.getBlockNumber({ cacheTime: 0 });
    const at = { blockNumber } as const; // one block, so the figures agree with each other
    const [totalAssets, totalSupply, lockedRevenue, unlockEnd, totalRevenue, sharePrice, block] =
      await Promise.all([
        this.client.readContract({ ...vault, functionName: "totalAssets", ...at }),
        this.client.readContract({ ...vault, functionName: "totalSupply", ...at }),
        this.client.readContract({ ...vault, functionName: "lockedRevenue", ...at }),
        this.client.readContract({ ...vault, functionName: "unlockEnd", ...at }),
        this.client.readContract({ ...vault, functionName: "totalRevenue", ...at }),
        this.client.readContract({
          ...vault,
          functionName: "convertToAssets",
          args: [10n ** BigInt(decimals)],
          ...at,
        }),
        this.client.getBlock(at),
      ]);
    return {
      address,
      totalAssets,
      totalSupply,
      lockedRevenue,
      unlockEnd,
      totalRevenue,
      sharePrice,
      readAt: block.timestamp,
    };
  }

  async fees(): Promise<FeesOnChain> {
    const settlement = { address: this.deployment.settlement, abi: settlementAbi } as const;
    const [
      protocolFeeBps,
      [, runnerFeeBps],
      runnerFeesAccrued,
      protocolFeesAccrued,
      batchCount,
      settledAmount,
      modelCount,
    ] = await Promise.all([
      this.client.readContract({ ...settlement, functionName: "protocolFeeBps" }),
      this.client.readContract({
        address: this.deployment.runnerRegistry,
        abi: runnerRegistryAbi,
        functionName: "runnerTerms",
        args: [this.runner],
      }),
      this.client.readContract({ ...settlement, functionName: "runnerFeesAccrued", args: [this.runner] }),
      this.client.readContract({ ...settlement, functionName: "protocolFeesAccrued" }),
      this.client.readContract({ ...settlement, functionName: "batchCount", args: [this.runner] }),
      this.client.readContract({ ...settlement, functionName: "settledAmount", args: [this.runner] }),
      this.client.readContract({
        address: this.deployment.modelRegistry,
        abi: modelRegistryAbi,
        functionName: "modelCount",
      }),
    ]);
    return {
      protocolFeeBps: BigInt(protocolFeeBps),
      runnerFeeBps: BigInt(runnerFeeBps),
      runnerFeesAccrued,
      protocolFeesAccrued,
      batchCount,
      settledAmount,
      modelCount,
    };
  }

  /** Settlement.verifyReceipt and the root stored for the batch, for the verify view. */
  async verifyReceipt(
    sequence: bigint,
    receipt: Receipt,
    proof: readonly Hex[],
  ): Promise<{ included: boolean; root: Hex }> {
    const settlement = { address: this.deployment.settlement, abi: settlementAbi } as const;
    const [included, root] = await Promise.all([
      this.client.readContract({
        ...settlement,
        functionName: "verifyReceipt",
        args: [this.runner, sequence, receipt, proof],
      }),
      this.client.readContract({ ...settlement, functionName: "batchRoot", args: [this.runner, sequence] }),
    ]);
    return { included, root };
  }
}

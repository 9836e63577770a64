/**
 * Investors: deposit into a model's ERC-4626 vault (its backing stake), redeem or withdraw, and see
 * what the position is worth now and later, as revenue that is still locked unlocks.
 */
import { type Address, type Hex, hexToBigInt, isAddressEqual, zeroAddress } from "viem";
import { call, eventsOf, type OpenLoRAClient, sendTx, signer } from "../client";
import { InvalidArgumentError, OpenLoRAError } from "../errors";
import { modelVaultAbi, modelVaultFactoryAbi } from "../generated/abis";
import { previewRedeem, sharePrice, type VaultTotals } from "../math/shareConversion";
import { lockedRevenueAt, totalAssetsAt, type UnlockState } from "../math/unlocking";
import { ensureAllowance } from "../token";

/** The vault's storage does not look like the ModelVault this SDK knows (an upgrade changed it). */
export class VaultLayoutError extends OpenLoRAError {}

const vaultAbi = (vault: Address) => ({ address: vault, abi: modelVaultAbi }) as const;

/** The vault of a model (from the factory). */
export async function vaultOf(client: OpenLoRAClient, modelId: bigint): Promise<Address> {
  const vault = await call(client, "ModelVaultFactory.vaultOf", () =>
    client.publicClient.readContract({
      address: client.deployment.modelVaultFactory,
      abi: modelVaultFactoryAbi,
      functionName: "vaultOf",
      args: [modelId],
    }),
  );
  if (isAddressEqual(vault, zeroAddress)) {
    throw new InvalidArgumentError(`model ${modelId} has no vault (is it registered?)`, { modelId });
  }
  return vault;
}

async function resolveVault(client: OpenLoRAClient, target: { modelId: bigint } | { vault: Address }) {
  return "vault" in target ? target.vault : vaultOf(client, target.modelId);
}

export type VaultTarget = { modelId: bigint } | { vault: Address };

/** Deposits `assets` (approving the vault first if needed); the shares go to `receiver` (default: the caller). */
export async function depositToVault(
  client: OpenLoRAClient,
  target: VaultTarget,
  assets: bigint,
  receiver?: Address,
): Promise<{ vault: Address; shares: bigint; hash: Hex }> {
  if (assets <= 0n) throw new InvalidArgumentError(`the deposit must be positive, got ${assets}`);
  const vault = await resolveVault(client, target);
  const to = receiver ?? signer(client, "ModelVault.deposit").address;
  await ensureAllowance(client, vault, assets);
  const { hash, receipt } = await sendTx(client, "ModelVault.deposit", {
    ...vaultAbi(vault),
    functionName: "deposit",
    args: [assets, to],
  });
  const [event] = eventsOf(receipt, modelVaultAbi, "Deposit", vault);
  return { vault, shares: event?.args.shares as bigint, hash };
}

/** Redeems `shares` (all of the caller's with "all") for assets sent to `receiver` (default: the caller). */
export async function redeemFromVault(
  client: OpenLoRAClient,
  target: VaultTarget,
  shares: bigint | "all",
  receiver?: Address,
): Promise<{ vault: Address; shares: bigint; assets: bigint; hash: Hex }> {
  const vault = await resolveVault(client, target);
  const owner = signer(client, "ModelVault.redeem").address;
  const amount =
    shares === "all"
      ? await call(client, "ModelVault.balanceOf", () =>
          client.publicClient.readContract({ ...vaultAbi(vault), functionName: "balanceOf", args: [owner] }),
        )
      : shares;
  if (amount <= 0n) throw new InvalidArgumentError("nothing to redeem", { vault, owner });
  const { hash, receipt } = await sendTx(client, "ModelVault.redeem", {
    ...vaultAbi(vault),
    functionName: "redeem",
    args: [amount, receiver ?? owner, owner],
  });
  const [event] = eventsOf(receipt, modelVaultAbi, "Withdraw", vault);
  return { vault, shares: amount, assets: event?.args.assets as bigint, hash };
}

/** Withdraws exactly `assets`, burning the shares that takes. */
export async function withdrawFromVault(
  client: OpenLoRAClient,
  target: VaultTarget,
  assets: bigint,
  receiver?: Address,
): Promise<{ vault: Address; shares: bigint; assets: bigint; hash: Hex }> {
  if (assets <= 0n) throw new InvalidArgumentError(`the withdrawal must be positive, got ${assets}`);
  const vault = await resolveVault(client, target);
  const owner = signer(client, "ModelVault.withdraw").address;
  const { hash, receipt } = await sendTx(client, "ModelVault.withdraw", {
    ...vaultAbi(vault),
    functionName: "withdraw",
    args: [assets, receiver ?? owner, owner],
  });
  const [event] = eventsOf(receipt, modelVaultAbi, "Withdraw", vault);
  return { vault, shares: event?.args.shares as bigint, assets, hash };
}

export interface VaultState {
  vault: Address;
  modelId: bigint;
  /** Asset decimals; shares have 6 more. */
  decimals: number;
  totalAssets: bigint;
  totalSupply: bigint;
  /** Revenue received and still unlocking (not yet in totalAssets). */
  lockedRevenue: bigint;
  /** When everything locked will have unlocked (unix seconds), provided the vault keeps shares. */
  unlockEnd: bigint;
  /** Cumulative revenue received. */
  totalRevenue: bigint;
  /** Asset base units paid for one whole share now (10^decimals at launch). */
  sharePrice: bigint;
  /** Block timestamp these values are for. */
  timestamp: bigint;
}

/** A vault's totals and share price, all read at one block. */
export async function getVaultState(client: OpenLoRAClient, target: VaultTarget): Promise<VaultState> {
  const vault = await resolveVault(client, target);
  const block = await call(client, "eth_getBlockByNumber", () =>
    client.publicClient.getBlock({ blockTag: "latest" }),
  );
  const at = { blockNumber: block.number };
  const read = <
    const fn extends
      | "modelId"
      | "totalAssets"
      | "totalSupply"
      | "lockedRevenue"
      | "unlockEnd"
      | "totalRevenue"
      | "decimals",
  >(
    functionName: fn,
  ) => client.publicClient.readContract({ ...vaultAbi(vault), functionName, ...at });
  const [modelId, totalAssets, totalSupply, lockedRevenue, unlockEnd, totalRevenue, shareDecimals] =
    await call(client, "ModelVault state", () =>
      Promise.all([
        read("modelId"),
        read("totalAssets"),
        read("totalSupply"),
        read("lockedRevenue"),
        read("unlockEnd"),
        read("totalRevenue"),
        read("decimals"),
      ]),
    );
  const decimals = Number(shareDecimals) - 6;
  return {
    vault,
    modelId: modelId as bigint,
    decimals,
    totalAssets: totalAssets as bigint,
    totalSupply: totalSupply as bigint,
    lockedRevenue: lockedRevenue as bigint,
    unlockEnd: unlockEnd as bigint,
    totalRevenue: totalRevenue as bigint,
    sharePrice: sharePrice(
      { totalAssets: totalAssets as bigint, totalSupply: totalSupply as bigint },
      decimals,
    ),
    timestamp: block.timestamp,
  };
}

/** ERC-7201 slot of ModelVault's storage struct: keccak256(abi.encode(uint256(keccak256("openlora.storage.ModelVault")) - 1)) & ~0xff. */
const VAULT_STORAGE = 0xec8439ae1b39e776b332fcf3f269f9a8f6d70fd4d3e915e6531c77acb16f2b00n;
const slot = (i: bigint): Hex => `0x${(VAULT_STORAGE + i).toString(16).padStart(64, "0")}`;
const MASK64 = (1n << 64n) - 1n;

/**
 * The vault's raw unlocking state (storage of ModelVaultStorage: factory|lockStart, lockEnd,
 * modelId, storedAssets, locked, totalRevenue), checked against the vault's own views so that a
 * layout change is caught rather than misread. With it, `totalAssetsAt` predicts exactly.
 */
export async function readUnlockState(
  client: OpenLoRAClient,
  vault: Address,
): Promise<UnlockState & { timestamp: bigint }> {
  const block = await call(client, "eth_getBlockByNumber", () =>
    client.publicClient.getBlock({ blockTag: "latest" }),
  );
  const blockNumber = block.number;
  const [s0, s1, s2, s3, s4, s5, factory, unlockEnd, accounted, totalRevenue, modelId, totalSupply] =
    await call(client, "ModelVault storage", () =>
      Promise.all([
        ...[0n, 1n, 2n, 3n, 4n, 5n].map((i) =>
          client.publicClient
            .getStorageAt({ address: vault, slot: slot(i), blockNumber })
            .then((v) => hexToBigInt(v ?? "0x0")),
        ),
        client.publicClient.readContract({ ...vaultAbi(vault), functionName: "factory", blockNumber }),
        client.publicClient.readContract({ ...vaultAbi(vault), functionName: "unlockEnd", blockNumber }),
        client.publicClient.readContract({
          ...vaultAbi(vault),
          functionName: "accountedAssets",
          blockNumber,
        }),
        client.publicClient.readContract({ ...vaultAbi(vault), functionName: "totalRevenue", blockNumber }),
        client.publicClient.readContract({ ...vaultAbi(vault), functionName: "modelId", blockNumber }),
        client.publicClient.readContract({ ...vaultAbi(vault), functionName: "totalSupply", blockNumber }),
      ] as const),
    );
  const state: UnlockState = {
    lockStart: ((s0 as bigint) >> 160n) & MASK64,
    lockEnd: (s1 as bigint) & MASK64,
    storedAssets: s3 as bigint,
    locked: s4 as bigint,
    totalSupply: totalSupply as bigint,
  };
  const storedFactory =
    `0x${((s0 as bigint) & ((1n << 160n) - 1n)).toString(16).padStart(40, "0")}` as Address;
  const consistent =
    isAddressEqual(storedFactory, factory as Address) &&
    state.lockEnd === unlockEnd &&
    state.storedAssets + state.locked === accounted &&
    s5 === totalRevenue &&
    s2 === modelId;
  if (!consistent) {
    throw new VaultLayoutError(`the storage of vault ${vault} does not have the layout this SDK reads`, {
      vault,
    });
  }
  return { ...state, timestamp: block.timestamp };
}

export interface YieldPreview {
  vault: Address;
  now: { timestamp: bigint; totalAssets: bigint; lockedRevenue: bigint; sharePrice: bigint };
  at: { timestamp: bigint; totalAssets: bigint; lockedRevenue: bigint; sharePrice: bigint };
  /** When all locked revenue will have unlocked (if the vault keeps shares). */
  unlockEnd: bigint;
  /** For `account`, when given: its shares and what they redeem for now and at `at`. */
  position?: { account: Address; shares: bigint; assetsNow: bigint; assetsAt: bigint };
}

/**
 * What a vault (and a holder's position) will be worth at `at` (unix seconds; default: when all
 * locked revenue has unlocked), if no deposit, withdrawal or revenue happens in between.
 */
export async function previewYield(
  client: OpenLoRAClient,
  target: VaultTarget,
  options: { at?: bigint; account?: Address } = {},
): Promise<YieldPreview> {
  const vault = await resolveVault(client, target);
  const [state, decimals] = await Promise.all([
    readUnlockState(client, vault),
    call(client, "ModelVault.decimals", () =>
      client.publicClient.readContract({ ...vaultAbi(vault), functionName: "decimals" }),
    ),
  ]);
  const assetDecimals = Number(decimals) - 6;
  // Default: when everything locked has unlocked (now, if nothing is locked).
  let at = options.at ?? state.lockEnd;
  if (options.at === undefined && at < state.timestamp) at = state.timestamp;
  const snapshot = (t: bigint) => {
    const totals: VaultTotals = { totalAssets: totalAssetsAt(state, t), totalSupply: state.totalSupply };
    return {
      timestamp: t,
      totalAssets: totals.totalAssets,
      lockedRevenue: lockedRevenueAt(state, t),
      sharePrice: sharePrice(totals, assetDecimals),
    };
  };
  const preview: YieldPreview = {
    vault,
    now: snapshot(state.timestamp),
    at: snapshot(at),
    unlockEnd: state.lockEnd,
  };
  if (options.account) {
    const account = options.account;
    const shares = await call(client, "ModelVault.balanceOf", () =>
      client.publicClient.readContract({ ...vaultAbi(vault), functionName: "balanceOf", args: [account] }),
    );
    const totals = (t: bigint) => ({ totalAssets: totalAssetsAt(state, t), totalSupply: state.totalSupply });
    preview.position = {
      account,
      shares,
      assetsNow: previewRedeem(shares, totals(state.timestamp)),
      assetsAt: previewRedeem(shares, totals(at)),
    };
  }
  return preview;
}

export interface VaultPosition {
  vault: Address;
  modelId: bigint;
  shares: bigint;
  /** What the shares redeem for now. */
  assets: bigint;
}

/** An account's positions in the vaults of the given models (only those with shares). */
export async function vaultPositions(
  client: OpenLoRAClient,
  account: Address,
  modelIds: readonly bigint[],
): Promise<VaultPosition[]> {
  const positions = await Promise.all(
    modelIds.map(async (modelId) => {
      const vault = await vaultOf(client, modelId);
      const shares = await call(client, "ModelVault.balanceOf", () =>
        client.publicClient.readContract({ ...vaultAbi(vault), functionName: "balanceOf", args: [account] }),
      );
      if (shares === 0n) return null;
      const assets = await call(client, "ModelVault.previewRedeem", () =>
        client.publicClient.readContract({
          ...vaultAbi(vault),
          functionName: "previewRedeem",
          args: [shares],
        }),
      );
      return { vault, modelId, shares, assets };
    }),
  );
  return positions.filter((p): p is VaultPosition => p !== null);
}

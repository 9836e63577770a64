/**
 * What a vault redeem gives up: revenue the vault has received but not yet unlocked is not in
 * the share price, so shares redeemed before it unlocks leave their part of it to the holders
 * who stay. The CLI warns with it before `vault redeem`.
 */
import type { Address } from "viem";
import { call, type OpenLoRAClient, signer } from "../client";
import { modelVaultAbi } from "../generated/abis";
import { previewRedeem } from "../math/shareConversion";
import { totalAssetsAt, type UnlockState } from "../math/unlocking";
import { readUnlockState, type VaultTarget, vaultOf } from "./vaults";

export interface UnlockingForfeit {
  /** Shares the redeem would burn. */
  shares: bigint;
  /** Asset base units those shares would redeem for once everything locked has unlocked, beyond what they redeem for now. */
  amount: bigint;
  /** When the vault's locked revenue will have unlocked (unix seconds). */
  unlockEnd: bigint;
}

/**
 * The part of the revenue still unlocking at `now` that `shares` would have received by
 * `state.lockEnd`, had nothing else happened in the vault (0 when nothing is locked).
 */
export function unlockingForfeit(state: UnlockState, shares: bigint, now: bigint): UnlockingForfeit {
  const redeemAt = (t: bigint) =>
    previewRedeem(shares, { totalAssets: totalAssetsAt(state, t), totalSupply: state.totalSupply });
  const end = state.lockEnd > now ? state.lockEnd : now;
  const amount = redeemAt(end) - redeemAt(now);
  return { shares, amount: amount > 0n ? amount : 0n, unlockEnd: end };
}

/** unlockingForfeit for a redeem of `shares` (all of the signer's with "all") from the chain's state now. */
export async function redeemForfeit(
  client: OpenLoRAClient,
  target: VaultTarget,
  shares: bigint | "all",
): Promise<UnlockingForfeit> {
  const vault: Address = "vault" in target ? target.vault : await vaultOf(client, target.modelId);
  const owner = signer(client, "ModelVault.redeem").address;
  const [state, amount] = await Promise.all([
    readUnlockState(client, vault),
    shares === "all"
      ? call(client, "ModelVault.balanceOf", () =>
          client.publicClient.readContract({
            address: vault,
            abi: modelVaultAbi,
            functionName: "balanceOf",
            args: [owner],
          }),
        )
      : shares,
  ]);
  return unlockingForfeit(state, amount, state.timestamp);
}

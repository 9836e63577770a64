/**
 * Off-chain mirror of ERC-4626 share conversion in a ModelVault (OpenZeppelin ERC4626 with a
 * virtual-share offset of 6 decimals): `shares = assets × (supply + 10^6) / (totalAssets + 1)`
 * and back, with the rounding each preview function uses. A differential test holds it equal to
 * the contract on anvil.
 */

/** ModelVault's `_decimalsOffset()`: shares carry this many more decimals than the asset. */
export const DECIMALS_OFFSET = 6;
const VIRTUAL_SHARES = 10n ** BigInt(DECIMALS_OFFSET);

export type Rounding = "floor" | "ceil";

export interface VaultTotals {
  totalAssets: bigint;
  totalSupply: bigint;
}

/** OpenZeppelin Math.mulDiv with a rounding direction (exact: bigints do not overflow). */
export function mulDiv(x: bigint, y: bigint, denominator: bigint, rounding: Rounding = "floor"): bigint {
  if (denominator === 0n) throw new RangeError("mulDiv by zero");
  const product = x * y;
  const quotient = product / denominator;
  return rounding === "ceil" && product % denominator !== 0n ? quotient + 1n : quotient;
}

export function convertToShares(assets: bigint, v: VaultTotals, rounding: Rounding = "floor"): bigint {
  return mulDiv(assets, v.totalSupply + VIRTUAL_SHARES, v.totalAssets + 1n, rounding);
}

export function convertToAssets(shares: bigint, v: VaultTotals, rounding: Rounding = "floor"): bigint {
  return mulDiv(shares, v.totalAssets + 1n, v.totalSupply + VIRTUAL_SHARES, rounding);
}

/** Shares minted by depositing `assets` (ERC-4626 previewDeposit). */
export const previewDeposit = (assets: bigint, v: VaultTotals) => convertToShares(assets, v, "floor");
/** Assets needed to mint `shares` (previewMint). */
export const previewMint = (shares: bigint, v: VaultTotals) => convertToAssets(shares, v, "ceil");
/** Shares burnt to withdraw `assets` (previewWithdraw). */
export const previewWithdraw = (assets: bigint, v: VaultTotals) => convertToShares(assets, v, "ceil");
/** Assets paid for redeeming `shares` (previewRedeem). */
export const previewRedeem = (shares: bigint, v: VaultTotals) => convertToAssets(shares, v, "floor");

/**
 * The share price: assets paid for one whole share (10^(assetDecimals + offset) share units),
 * in asset base units. 1.0 (10^assetDecimals) for a new vault; it only rises with revenue.
 */
export function sharePrice(v: VaultTotals, assetDecimals: number): bigint {
  return convertToAssets(10n ** BigInt(assetDecimals + DECIMALS_OFFSET), v, "floor");
}

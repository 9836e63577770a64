import { describe, expect, it } from "vitest";
import {
  convertToAssets,
  convertToShares,
  mulDiv,
  previewDeposit,
  previewMint,
  previewRedeem,
  previewWithdraw,
  sharePrice,
} from "./shareConversion";

describe("share conversion", () => {
  it("mints 10^6 shares per asset unit into an empty vault (virtual offset)", () => {
    const empty = { totalAssets: 0n, totalSupply: 0n };
    expect(previewDeposit(1_000_000n, empty)).toBe(1_000_000_000_000n);
    expect(sharePrice(empty, 6)).toBe(1_000_000n);
  });

  it("rounds in the vault's favour both ways", () => {
    const v = { totalAssets: 1_000_003n, totalSupply: 999_999_999_999n };
    const shares = previewDeposit(777n, v);
    expect(previewMint(shares, v)).toBeGreaterThanOrEqual(previewRedeem(shares, v));
    expect(previewWithdraw(777n, v)).toBeGreaterThanOrEqual(convertToShares(777n, v));
    expect(previewRedeem(shares, v)).toBeLessThanOrEqual(777n);
  });

  it("raises the share price as assets grow, not as shares are minted", () => {
    const v = { totalAssets: 1_000_000n, totalSupply: 1_000_000_000_000n };
    const price = sharePrice(v, 6);
    expect(price).toBe(1_000_000n);
    expect(sharePrice({ ...v, totalAssets: 1_100_000n }, 6)).toBe(1_099_999n);
    expect(convertToAssets(1_000_000_000_000n, { ...v, totalAssets: 1_100_000n })).toBe(1_099_999n);
  });

  it("mulDiv rounds up only when there is a remainder", () => {
    expect(mulDiv(10n, 10n, 3n, "ceil")).toBe(34n);
    expect(mulDiv(9n, 10n, 3n, "ceil")).toBe(30n);
    expect(() => mulDiv(1n, 1n, 0n)).toThrow(RangeError);
  });
});

import { describe, expect, it } from "vitest";
import { effectiveVaultShareBps, RevenueSplitError, splitRevenue } from "./revenueSplit";

describe("splitRevenue", () => {
  it("matches the contract's known values", () => {
    expect(splitRevenue(1_000_000n, 200n, 1000n, 3000n)).toEqual({
      protocolFee: 20_000n,
      runnerFee: 100_000n,
      vault: 264_000n,
      holders: 616_000n,
    });
  });

  it("gives every rounding remainder to the holders", () => {
    expect(splitRevenue(7n, 3333n, 3333n, 5000n)).toEqual({
      protocolFee: 2n,
      runnerFee: 2n,
      vault: 1n,
      holders: 2n,
    });
  });

  it("rejects fee and vault rates above 100%", () => {
    expect(() => splitRevenue(1n, 6000n, 4001n, 0n)).toThrow(RevenueSplitError);
    expect(() => splitRevenue(1n, 0n, 0n, 10_001n)).toThrow(/vault share exceeds 100%/);
  });

  it("gives an empty vault's share to the holders", () => {
    expect(effectiveVaultShareBps(3000n, 0n)).toBe(0n);
    expect(effectiveVaultShareBps(3000n, 1n)).toBe(3000n);
    expect(splitRevenue(1_000_000n, 200n, 1000n, effectiveVaultShareBps(3000n, 0n))).toEqual({
      protocolFee: 20_000n,
      runnerFee: 100_000n,
      vault: 0n,
      holders: 880_000n,
    });
  });
});

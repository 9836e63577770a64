import { describe, expect, it } from "vitest";
import type { UnlockState } from "../math/unlocking";
import { unlockingForfeit } from "./forfeit";

const HOUR = 3_600n;
// 2 tUSD deposited for 2e12 shares (6 more decimals), then 0.14 tUSD of revenue locked for an hour.
const state: UnlockState = {
  storedAssets: 2_000_000n,
  locked: 140_000n,
  lockStart: 1_000n,
  lockEnd: 1_000n + HOUR,
  totalSupply: 2_000_000n * 10n ** 6n,
};

describe("unlockingForfeit", () => {
  it("is the redeemed shares' part of the revenue still locked, and when it would have unlocked", () => {
    const all = unlockingForfeit(state, state.totalSupply, state.lockStart);
    expect(all.unlockEnd).toBe(state.lockEnd);
    expect(all.amount).toBeGreaterThanOrEqual(139_999n);
    expect(all.amount).toBeLessThanOrEqual(140_000n);
    // Half the shares, halfway through: half of the half still locked.
    const half = unlockingForfeit(state, state.totalSupply / 2n, state.lockStart + HOUR / 2n);
    expect(half.amount).toBeGreaterThanOrEqual(34_999n);
    expect(half.amount).toBeLessThanOrEqual(35_000n);
  });

  it("is nothing once the revenue has unlocked, or when none was received", () => {
    expect(unlockingForfeit(state, state.totalSupply, state.lockEnd).amount).toBe(0n);
    expect(unlockingForfeit(state, state.totalSupply, state.lockEnd + HOUR).amount).toBe(0n);
    expect(unlockingForfeit({ ...state, locked: 0n }, state.totalSupply, state.lockStart).amount).toBe(0n);
  });
});

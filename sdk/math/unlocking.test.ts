import { describe, expect, it } from "vitest";
import {
  checkpoint,
  deposit,
  EmptyVaultRevenueError,
  lockedRevenueAt,
  mergedDuration,
  receiveRevenue,
  releaseIfEmpty,
  totalAssetsAt,
  type UnlockState,
  unlocked,
  withdraw,
} from "./unlocking";

const empty: UnlockState = {
  storedAssets: 0n,
  locked: 0n,
  lockStart: 1_000n,
  lockEnd: 1_000n,
  totalSupply: 0n,
};
const DAY = 86_400n;

describe("unlocking", () => {
  it("unlocks linearly, rounding down, and all of it at the end", () => {
    expect(unlocked(1_000n, 0n, 3n, 1n)).toBe(333n);
    expect(unlocked(1_000n, 0n, 3n, 0n)).toBe(0n);
    expect(unlocked(1_000n, 0n, 3n, 3n)).toBe(1_000n);
    expect(unlocked(1_000n, 10n, 20n, 99n)).toBe(1_000n);
  });

  it("merges a new arrival into the remaining time by amount-weighted average", () => {
    expect(mergedDuration(0n, 0n, 5n, 7n * DAY)).toBe(7n * DAY);
    // 100 with 1 day left + 300 arriving with a 7-day period: (100·1 + 300·7) / 400 = 5.5 days.
    expect(mergedDuration(100n, DAY, 300n, 7n * DAY)).toBe((11n * DAY) / 2n);
  });

  it("follows a vault through deposits, revenue and withdrawals", () => {
    let s = deposit(empty, 1_000_000n, 1_000_000_000_000n, 1_000n);
    s = receiveRevenue(s, 70_000n, 2_000n, 7n * DAY);
    expect(s.lockEnd).toBe(2_000n + 7n * DAY);
    expect(totalAssetsAt(s, 2_000n)).toBe(1_000_000n);
    expect(totalAssetsAt(s, 2_000n + DAY)).toBe(1_010_000n);
    expect(lockedRevenueAt(s, 2_000n + DAY)).toBe(60_000n);
    // A checkpoint never changes totalAssets.
    const later = 2_000n + DAY + 1234n;
    expect(totalAssetsAt(checkpoint(s, later), later)).toBe(totalAssetsAt(s, later));
    s = withdraw(s, 500_000n, 500_000_000_000n, 2_000n + 2n * DAY);
    expect(s.storedAssets).toBe(520_000n);
    expect(totalAssetsAt(s, 2_000n + 8n * DAY)).toBe(570_000n);
  });

  it("refuses revenue while the vault has no shares", () => {
    expect(() => receiveRevenue(empty, 70_000n, 2_000n, 7n * DAY)).toThrow(EmptyVaultRevenueError);
    expect(receiveRevenue(empty, 0n, 2_000n, 7n * DAY)).toEqual(empty);
  });

  it("sends what is still locked to the holders when the last shares leave", () => {
    let s = deposit(empty, 1_000_000n, 1_000_000_000_000n, 1_000n);
    s = receiveRevenue(s, 70_000n, 1_000n, 7n * DAY);
    const exit = 1_000n + DAY;
    expect(releaseIfEmpty(s, exit).released).toBe(0n); // still backed
    s = withdraw(s, 1_010_000n, 1_000_000_000_000n, exit);
    expect(s).toEqual({ storedAssets: 0n, locked: 0n, lockStart: exit, lockEnd: exit, totalSupply: 0n });
    // The next depositor finds nothing locked to collect.
    s = deposit(s, 1n, 1_000_000n, exit + 1n);
    expect(totalAssetsAt(s, exit + 30n * DAY)).toBe(1n);
  });
});

import { describe, expect, it } from "vitest";
import { credit, earned, PRECISION, RewardLedger } from "./rewards";

describe("reward-per-unit accrual", () => {
  it("keeps the undivided remainder as carry for the next credit", () => {
    const first = credit(10n, 3n, 0n);
    expect(first.delta).toBe((10n * PRECISION) / 3n);
    expect(first.carry).toBe((10n * PRECISION) % 3n);
    expect(earned(3n, first.delta, 0n)).toBe(9n);
  });

  it("never lets holders claim more than was credited, and loses nothing at the model level", () => {
    const ledger = new RewardLedger({ a: 1n, b: 1n, c: 1n });
    ledger.credit(10n);
    expect(ledger.claimable("a")).toBe(3n);
    ledger.credit(2n);
    // 12 credited over 3 equal holders: the carry makes the second credit complete the split.
    expect(ledger.claimable("a") + ledger.claimable("b") + ledger.claimable("c")).toBe(12n);
    expect(ledger.dust()).toBe(0n);
  });

  it("keeps earnings with their earners when units change", () => {
    const ledger = new RewardLedger({ a: 3n, b: 1n });
    ledger.credit(400n);
    ledger.setUnits("b", 3n);
    ledger.credit(600n);
    expect(ledger.claimable("a")).toBe(300n + 300n);
    expect(ledger.claimable("b")).toBe(100n + 300n);
    expect(ledger.claim("a")).toBe(600n);
    expect(ledger.claimable("a")).toBe(0n);
    expect(ledger.totalClaimed).toBe(600n);
  });
});

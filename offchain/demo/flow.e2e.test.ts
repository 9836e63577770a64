// The demo's whole flow on anvil, asserting the money: what consumers paid equals what the
// contributors, vaults, runner and treasury received (and what still unlocks), to the wei, and
// each part equals the contract's split of each model's revenue.
import { describe, expect, it } from "vitest";
import { splitRevenue } from "../../sdk/math/revenueSplit";
import { runDemo } from "./flow";

describe("npm run demo, end to end", () => {
  it("accounts for every wei consumers paid, and proves an inference on-chain", async () => {
    const report = await runDemo({ calls: 60, train: false });
    expect(report.models.map((m) => Number(m.calls))).toEqual([30, 30]);
    expect(report.received).toBe(report.consumersPaid);
    expect(report.consumersPaid).toBe(report.models.reduce((sum, m) => sum + m.revenue, 0n));

    // One batch settled everything: each model's revenue was split once, as the contract does.
    expect(report.settlement.batches).toBe(1);
    let runnerFees = 0n;
    let protocolFees = 0n;
    for (const model of report.models) {
      const vault = report.vaults.find((v) => v.modelId === model.modelId);
      const vaultShareBps = model.name.includes("sentiment") ? 3_000n : 2_000n;
      const parts = splitRevenue(model.revenue, report.protocolFeeBps, 1_000n, vaultShareBps);
      expect(vault?.revenue).toBe(parts.vault);
      expect(vault?.stillUnlocking).toBeGreaterThan(0n); // a third of the period has passed
      expect(vault?.stillUnlocking).toBeLessThan(parts.vault);
      const claims = report.contributors.filter((c) => c.modelId === model.modelId);
      const claimed = claims.reduce((sum, c) => sum + c.claimed, 0n);
      expect(claimed).toBeLessThanOrEqual(parts.holders);
      expect(parts.holders - claimed).toBeLessThan(BigInt(claims.length)); // rounding dust only
      const totalUnits = claims.reduce((sum, c) => sum + c.units, 0n);
      for (const c of claims) {
        const due = (parts.holders * c.units) / totalUnits;
        expect(c.claimed === due || c.claimed === due - 1n || c.claimed === due + 1n).toBe(true);
      }
      runnerFees += parts.runnerFee;
      protocolFees += parts.protocolFee;
    }
    expect(report.runner.fees).toBe(runnerFees);
    expect(report.treasury.fees).toBe(protocolFees);
    expect(report.proof.included).toBe(true);
    expect(report.settlement.gasPerCall).toBeGreaterThan(0);
  }, 240_000);
});

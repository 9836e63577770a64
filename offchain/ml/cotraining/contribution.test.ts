import { describe, expect, it } from "vitest";
import { cachedUtility, exactShapley, leaveOneOut, monteCarloShapley, proposeUnits } from "./contribution";

const has = (mask: number, i: number) => (mask & (1 << i)) !== 0;

describe("Shapley values", () => {
  it("are the weights of an additive game", () => {
    const weights = [0.5, 0.2, -0.1, 0];
    const additive = (mask: number) => weights.reduce((sum, w, i) => sum + (has(mask, i) ? w : 0), 0);
    const values = exactShapley(4, additive);
    for (const [i, value] of values.entries()) expect(value).toBeCloseTo(weights[i] as number, 12);
  });

  it("split a synergy equally and give a null player nothing (glove game)", () => {
    // Players 0 and 1 together are worth 1; player 2 adds nothing.
    const glove = (mask: number) => (has(mask, 0) && has(mask, 1) ? 1 : 0);
    const values = exactShapley(3, glove);
    expect(values[0]).toBeCloseTo(0.5, 12);
    expect(values[1]).toBeCloseTo(0.5, 12);
    expect(values[2]).toBeCloseTo(0, 12);
    expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(glove(7) - glove(0), 12);
  });

  it("Monte-Carlo estimates approach the exact values and are seeded", () => {
    const game = (mask: number) =>
      Math.sqrt(((mask & 1) * 3 + ((mask >> 1) & 1) * 2 + ((mask >> 2) & 1)) / 6);
    const exact = exactShapley(3, game);
    const estimate = monteCarloShapley(3, cachedUtility(game), 400, 1);
    for (const [i, value] of estimate.entries()) expect(value).toBeCloseTo(exact[i] as number, 1);
    expect(monteCarloShapley(3, game, 20, 9)).toEqual(monteCarloShapley(3, game, 20, 9));
  });

  it("leave-one-out is the loss from removing each player", () => {
    const game = (mask: number) => (has(mask, 0) ? 2 : 0) + (has(mask, 1) ? 1 : 0);
    expect(leaveOneOut(2, game)).toEqual([2, 1]);
  });

  it("caches each coalition's utility", () => {
    let calls = 0;
    const utility = cachedUtility((mask) => {
      calls++;
      return mask;
    });
    exactShapley(3, utility);
    expect(calls).toBe(8);
    expect(utility.evaluations()).toBe(8);
  });
});

describe("proposed share units", () => {
  it("are integers summing to the total, proportional to positive contributions", () => {
    const units = proposeUnits([0.3, 0.1, 0.2], 10_000);
    expect(units).toEqual([5000, 1667, 3333]);
    expect(units.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it("give nothing to contributors who made the adapter worse, and nothing at all if no one helped", () => {
    expect(proposeUnits([0.4, -0.2, 0.1], 100)).toEqual([80, 0, 20]);
    expect(proposeUnits([-0.1, 0], 100)).toEqual([0, 0]);
  });

  it("break remainder ties by order, deterministically", () => {
    expect(proposeUnits([1, 1, 1], 100)).toEqual([34, 33, 33]);
  });
});

/**
 * Contribution of each contributor to a co-trained adapter, from a utility over coalitions
 * (validation accuracy of the adapter trained on a coalition's data):
 *  - Shapley value, exact over all 2^n coalitions when n is small, else Monte-Carlo over
 *    seeded random permutations (Ghorbani & Zou, "Data Shapley", 2019, at contributor level);
 *  - leave-one-out: v(N) − v(N \ {i}).
 * Coalitions are bit masks over the contributors' indices; utilities are cached, so each
 * coalition is trained at most once.
 */
import { Rng } from "../random";

export type Utility = (coalition: number) => number;

export function cachedUtility(utility: Utility): Utility & { evaluations: () => number } {
  const cache = new Map<number, number>();
  const wrapped = (coalition: number): number => {
    let value = cache.get(coalition);
    if (value === undefined) {
      value = utility(coalition);
      cache.set(coalition, value);
    }
    return value;
  };
  return Object.assign(wrapped, { evaluations: () => cache.size });
}

function factorials(n: number): number[] {
  const out = [1];
  for (let i = 1; i <= n; i++) out.push((out[i - 1] as number) * i);
  return out;
}

function popcount(mask: number): number {
  let count = 0;
  for (let m = mask; m !== 0; m &= m - 1) count++;
  return count;
}

/** Exact Shapley values: φ_i = Σ_{S ∌ i} |S|!(n−|S|−1)!/n! · (v(S ∪ {i}) − v(S)). */
export function exactShapley(n: number, utility: Utility): number[] {
  if (n > 20) throw new Error("exact Shapley is limited to 20 contributors");
  const f = factorials(n);
  const values = new Array<number>(n).fill(0);
  for (let mask = 0; mask < 1 << n; mask++) {
    const size = popcount(mask);
    const weight = ((f[size] as number) * (f[n - size - 1] as number)) / (f[n] as number);
    for (let i = 0; i < n; i++) {
      if (mask & (1 << i)) continue;
      values[i] = (values[i] as number) + weight * (utility(mask | (1 << i)) - utility(mask));
    }
  }
  return values;
}

/** Monte-Carlo Shapley: mean marginal contribution over `permutations` seeded permutations. */
export function monteCarloShapley(n: number, utility: Utility, permutations: number, seed: number): number[] {
  const rng = Rng.derive(seed, "shapley");
  const values = new Array<number>(n).fill(0);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let p = 0; p < permutations; p++) {
    rng.shuffle(order);
    let mask = 0;
    let previous = utility(0);
    for (const i of order) {
      mask |= 1 << i;
      const current = utility(mask);
      values[i] = (values[i] as number) + current - previous;
      previous = current;
    }
  }
  return values.map((v) => v / permutations);
}

export function leaveOneOut(n: number, utility: Utility): number[] {
  const all = (1 << n) - 1;
  return Array.from({ length: n }, (_, i) => utility(all) - utility(all & ~(1 << i)));
}

/**
 * Proposed share units: `total` split in proportion to the positive contributions (a
 * contributor who made the adapter worse gets none), as integers by the largest-remainder
 * method, ties broken by index. If no one helped, every contributor gets 0.
 */
export function proposeUnits(contributions: readonly number[], total: number): number[] {
  const positive = contributions.map((c) => Math.max(c, 0));
  const sum = positive.reduce((a, b) => a + b, 0);
  if (sum <= 0) return contributions.map(() => 0);
  const exact = positive.map((c) => (c / sum) * total);
  const units = exact.map(Math.floor);
  let left = total - units.reduce((a, b) => a + b, 0);
  const byRemainder = exact
    .map((value, i) => ({ i, remainder: value - Math.floor(value) }))
    .filter(({ i }) => (positive[i] as number) > 0)
    .sort((x, y) => y.remainder - x.remainder || x.i - y.i);
  for (const { i } of byRemainder) {
    if (left <= 0) break;
    units[i] = (units[i] as number) + 1;
    left--;
  }
  return units;
}

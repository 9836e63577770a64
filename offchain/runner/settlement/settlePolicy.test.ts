import { describe, expect, it } from "vitest";
import { decideSettlement, type SettlePolicyOptions, type UnsettledLane, worthItsGas } from "./settlePolicy";

const MINUTE = 60_000;
const options: SettlePolicyOptions = {
  minIntervalMs: 5 * MINUTE,
  maxAgeMs: 30 * MINUTE,
  maxCalls: 1_000,
  closeMarginMs: 5 * MINUTE,
  laneGas: 40_000n,
  gasWorthMultiple: 2,
};

const lane = (channelId: bigint, fields: Partial<UnsettledLane> = {}): UnsettledLane => ({
  channelId,
  modelId: 1n,
  calls: 10,
  value: 10_000n,
  oldestAt: 0,
  ...fields,
});
const channels = (decision: { lanes: { channelId: bigint }[] }) => decision.lanes.map((l) => l.channelId);
const GWEI = 10n ** 9n;

describe("decideSettlement", () => {
  it("waits while the calls are few and young, and settles them once the oldest reaches the maximum age", () => {
    const lanes = [lane(1n, { oldestAt: 0 }), lane(2n, { oldestAt: 10 * MINUTE })];
    for (const now of [0, MINUTE, 29 * MINUTE])
      expect(decideSettlement(now, -Infinity, lanes, GWEI, options).reason).toBeNull();
    const due = decideSettlement(30 * MINUTE, -Infinity, lanes, GWEI, options);
    expect(due.reason).toBe("age");
    expect(channels(due)).toEqual([1n, 2n]); // the younger lane rides along: it is worth its gas
  });

  it("settles on size, but never sooner than the minimum interval after the last settlement", () => {
    const lanes = [
      lane(1n, { calls: 600, oldestAt: 9 * MINUTE }),
      lane(2n, { calls: 400, oldestAt: 9 * MINUTE }),
    ];
    const last = 8 * MINUTE;
    expect(decideSettlement(10 * MINUTE, last, lanes, GWEI, options).reason).toBeNull();
    expect(decideSettlement(13 * MINUTE - 1, last, lanes, GWEI, options).reason).toBeNull();
    expect(decideSettlement(13 * MINUTE, last, lanes, GWEI, options).reason).toBe("size");
    expect(decideSettlement(13 * MINUTE, last, lanes.slice(1), GWEI, options).reason).toBeNull();
  });

  it("settles on unsettled value when a maximum value is set", () => {
    const lanes = [lane(1n, { value: 500n }), lane(2n, { value: 499n })];
    expect(decideSettlement(MINUTE, -Infinity, lanes, GWEI, options).reason).toBeNull();
    const decision = decideSettlement(MINUTE, -Infinity, lanes, GWEI, { ...options, maxValue: 999n });
    expect(decision.reason).toBe("size");
  });

  it("settles a closing channel's lanes before the deadline's margin, inside the interval, and only them", () => {
    const lanes = [lane(1n, { closesAt: 20 * MINUTE, value: 1n }), lane(2n)];
    const last = 14 * MINUTE;
    expect(decideSettlement(15 * MINUTE - 1, last, lanes, GWEI, options).reason).toBeNull();
    const due = decideSettlement(15 * MINUTE, last, lanes, GWEI, {
      ...options,
      nativeTokenPrice: 3_000n * 10n ** 6n,
    });
    expect(due).toEqual({ reason: "deadline", lanes: [{ channelId: 1n, modelId: 1n }] });
  });

  it("puts the closing lanes first when a settlement is due anyway", () => {
    const lanes = [lane(1n), lane(2n, { closesAt: 33 * MINUTE })];
    const due = decideSettlement(30 * MINUTE, -Infinity, lanes, GWEI, options);
    expect(due.reason).toBe("age"); // not "deadline": it restarts the interval
    expect(channels(due)).toEqual([2n, 1n]);
  });

  it("leaves lanes not worth their gas until age forces them", () => {
    // 40k gas × 2 × 1 gwei × 3,000 USD/ETH = 0.24 USD = 240,000 base units of a 6-decimal asset.
    const priced = { ...options, nativeTokenPrice: 3_000n * 10n ** 6n };
    const cheap = lane(1n, { value: 239_999n, oldestAt: 10 * MINUTE });
    const worth = lane(2n, { value: 240_000n, oldestAt: 10 * MINUTE, calls: 1_000 });
    expect(worthItsGas(cheap, GWEI, priced)).toBe(false);
    expect(worthItsGas(worth, GWEI, priced)).toBe(true);
    expect(channels(decideSettlement(20 * MINUTE, -Infinity, [cheap, worth], GWEI, priced))).toEqual([2n]);
    // Size alone with nothing worth its gas: not due.
    const small = lane(3n, { value: 1n, calls: 5_000, oldestAt: 10 * MINUTE });
    expect(decideSettlement(20 * MINUTE, -Infinity, [small], GWEI, priced).reason).toBeNull();
    expect(channels(decideSettlement(40 * MINUTE, -Infinity, [cheap, small], GWEI, priced))).toEqual([
      1n,
      3n,
    ]);
    // A cheaper gas price makes the cheap lane worth it.
    expect(worthItsGas(cheap, GWEI / 2n, priced)).toBe(true);
  });
});

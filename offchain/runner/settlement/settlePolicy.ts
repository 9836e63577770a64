/**
 * When the runner settles, and which lanes: a pure function of the clock, the unsettled lanes
 * and the gas price, so that it can be tested (and benchmarked) on a virtual clock.
 *
 * A settlement costs a fixed ~300k gas plus ~40k per lane, whatever the number of calls a lane's
 * voucher pays for, so gas per paid call falls with every call a batch waits for. The policy
 * waits, within bounds on what the runner has at stake:
 *  - a settlement is due once the unsettled calls or value reach a size threshold, or once the
 *    oldest unsettled call reaches a maximum age; never sooner than `minIntervalMs` after the
 *    last one while the stream goes on;
 *  - a lane whose channel's consumer requested close is settled `closeMarginMs` before the
 *    challenge deadline, interval or not: after it, its vouchers are worthless;
 *  - a due settlement takes the lanes whose unsettled value is worth their own gas (value at
 *    least `gasWorthMultiple` × `laneGas` at the current gas price, when the native token's price
 *    in the payment asset is known), and the lanes forced by age or deadline whatever their value.
 */
import type { LaneKey } from "./laneKey";

export interface SettlePolicyOptions {
  /** Settlements are at least this far apart, but for channels about to close. */
  minIntervalMs: number;
  /** A settlement is due once the oldest unsettled call is this old. */
  maxAgeMs: number;
  /** A settlement is due once this many calls are unsettled. */
  maxCalls: number;
  /** A settlement is due once this much value (payment-asset base units) is unsettled. */
  maxValue?: bigint;
  /** A closing channel's lanes are settled this long before its challenge deadline. */
  closeMarginMs: number;
  /** What one more lane adds to a settlement's gas. */
  laneGas: bigint;
  /** A lane is worth settling once its value is this many times its gas cost. */
  gasWorthMultiple: number;
  /** One native token (10^18 wei) in payment-asset base units; unset: every lane is worth its gas. */
  nativeTokenPrice?: bigint;
}

/** The policy's defaults (config.ts gives the runner's). */
export const SETTLE_POLICY_DEFAULTS = {
  minIntervalMs: 10 * 60_000,
  // maxAgeMs: 6 × minIntervalMs, unless set
  maxCalls: 100_000,
  // Under the shortest challenge period PaymentChannels allows (10 minutes).
  closeMarginMs: 5 * 60_000,
  // A lane settled before, in a batch of many (docs/gas.md).
  laneGas: 40_000n,
  gasWorthMultiple: 2,
} as const;

/** A lane with calls the runner has served and not settled. */
export interface UnsettledLane extends LaneKey {
  calls: number;
  /** Payment-asset base units not yet settled (an estimate where the chain was not read). */
  value: bigint;
  /** When the lane's oldest unsettled call arrived (ms on the policy's clock). */
  oldestAt: number;
  /** Its channel's challenge deadline (ms on the policy's clock), once a close was requested. */
  closesAt?: number;
}

export type SettleReason = "deadline" | "age" | "size";

export interface SettleDecision {
  /** Why a settlement is due now; null when none is. */
  reason: SettleReason | null;
  /** The lanes to settle, those forced by a deadline first. */
  lanes: LaneKey[];
}

const NOTHING: SettleDecision = { reason: null, lanes: [] };
const WEI_PER_TOKEN = 10n ** 18n;

/** Whether a lane's unsettled value pays for its own gas `gasWorthMultiple` times. */
export function worthItsGas(lane: UnsettledLane, gasPrice: bigint, options: SettlePolicyOptions): boolean {
  if (options.nativeTokenPrice === undefined) return true;
  // value ≥ k × laneGas × gasPrice × price / 10^18, in integers; k in thousandths.
  const k = BigInt(Math.round(options.gasWorthMultiple * 1000));
  return lane.value * WEI_PER_TOKEN * 1000n >= k * options.laneGas * gasPrice * options.nativeTokenPrice;
}

/**
 * What to settle at `now`, given when the last settlement was (`lastSettledAt`, -Infinity if
 * never) and the gas price in wei.
 */
export function decideSettlement(
  now: number,
  lastSettledAt: number,
  lanes: readonly UnsettledLane[],
  gasPrice: bigint,
  options: SettlePolicyOptions,
): SettleDecision {
  const closing = lanes.filter(
    (lane) => lane.closesAt !== undefined && now >= lane.closesAt - options.closeMarginMs,
  );
  const waited = now >= lastSettledAt + options.minIntervalMs;
  const aged = waited ? lanes.filter((lane) => now >= lane.oldestAt + options.maxAgeMs) : [];
  const big = waited && isBig(lanes, options);
  if (closing.length === 0 && aged.length === 0 && !big) return NOTHING;

  const chosen = new Map<string, LaneKey>();
  const take = (lane: UnsettledLane) => chosen.set(`${lane.channelId}:${lane.modelId}`, lane);
  closing.forEach(take);
  if (aged.length > 0 || big) {
    aged.forEach(take);
    for (const lane of lanes) if (worthItsGas(lane, gasPrice, options)) take(lane);
  }
  if (chosen.size === 0) return NOTHING; // big, but no lane is worth its gas yet: age will force them
  // "deadline" only when nothing else is due: a settlement for age or size restarts the interval.
  const reason: SettleReason = aged.length > 0 ? "age" : big ? "size" : "deadline";
  return { reason, lanes: [...chosen.values()].map(({ channelId, modelId }) => ({ channelId, modelId })) };
}

function isBig(lanes: readonly UnsettledLane[], options: SettlePolicyOptions): boolean {
  let calls = 0;
  let value = 0n;
  for (const lane of lanes) {
    calls += lane.calls;
    value += lane.value;
  }
  return calls >= options.maxCalls || (options.maxValue !== undefined && value >= options.maxValue);
}

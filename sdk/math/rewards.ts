/**
 * Off-chain mirror of the co-training shares' reward-per-unit accumulator
 * (contracts/libraries/RewardMath.sol and CoTrainingShares): what each holder of a model can
 * claim after any sequence of revenue credits, unit changes and claims. A differential test holds
 * it equal to the contract on anvil.
 */

/** RewardMath.PRECISION: the accumulator's scale. */
export const PRECISION = 10n ** 36n;

/** RewardMath.credit: the accumulator's rise for `amount` over `totalUnits`, and the new carry. */
export function credit(amount: bigint, totalUnits: bigint, carry: bigint): { delta: bigint; carry: bigint } {
  if (totalUnits <= 0n) throw new RangeError("credit to a model without units");
  const scaled = amount * PRECISION + carry;
  return { delta: scaled / totalUnits, carry: scaled % totalUnits };
}

/** RewardMath.earned: what `units` earned while the accumulator rose from `paid` to `rewardPerUnit` (rounds down). */
export function earned(units: bigint, rewardPerUnit: bigint, paid: bigint): bigint {
  return (units * (rewardPerUnit - paid)) / PRECISION;
}

interface Holder {
  units: bigint;
  paid: bigint;
  accrued: bigint;
}

/** One model's holder accounting, step by step as the contract does it. */
export class RewardLedger {
  rewardPerUnit = 0n;
  carry = 0n;
  totalCredited = 0n;
  totalClaimed = 0n;
  private readonly holders = new Map<string, Holder>();

  constructor(units: Record<string, bigint> = {}) {
    for (const [account, u] of Object.entries(units)) this.holder(account).units = u;
  }

  get totalUnits(): bigint {
    let total = 0n;
    for (const h of this.holders.values()) total += h.units;
    return total;
  }

  private holder(account: string): Holder {
    const key = account.toLowerCase();
    let h = this.holders.get(key);
    if (!h) {
      h = { units: 0n, paid: this.rewardPerUnit, accrued: 0n };
      this.holders.set(key, h);
    }
    return h;
  }

  private checkpoint(h: Holder) {
    h.accrued += earned(h.units, this.rewardPerUnit, h.paid);
    h.paid = this.rewardPerUnit;
  }

  unitsOf(account: string): bigint {
    return this.holders.get(account.toLowerCase())?.units ?? 0n;
  }

  /** CoTrainingShares.creditRevenue. */
  credit(amount: bigint): void {
    const { delta, carry } = credit(amount, this.totalUnits, this.carry);
    this.rewardPerUnit += delta;
    this.carry = carry;
    this.totalCredited += amount;
  }

  /** CoTrainingShares.claimable. */
  claimable(account: string): bigint {
    const h = this.holders.get(account.toLowerCase());
    if (!h) return 0n;
    return h.accrued + earned(h.units, this.rewardPerUnit, h.paid);
  }

  /** CoTrainingShares.claim: pays and zeroes what the account has earned. */
  claim(account: string): bigint {
    const h = this.holder(account);
    this.checkpoint(h);
    const amount = h.accrued;
    h.accrued = 0n;
    this.totalClaimed += amount;
    return amount;
  }

  /** A units change (training round or transfer): earnings so far stay with their earners. */
  setUnits(account: string, units: bigint): void {
    const h = this.holder(account);
    this.checkpoint(h);
    h.units = units;
  }

  /** Everything credited and not yet claimed, and the part no holder can ever claim (rounding dust). */
  dust(): bigint {
    let owed = 0n;
    for (const key of this.holders.keys()) owed += this.claimable(key);
    return this.totalCredited - this.totalClaimed - owed;
  }
}

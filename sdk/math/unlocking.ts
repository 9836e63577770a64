/**
 * Off-chain mirror of a ModelVault's linear profit unlocking (contracts/libraries/ProfitUnlock.sol
 * and ModelVault's checkpoint): what part of the revenue a vault received is in its totalAssets at
 * any time. A differential test holds it equal to the contract on anvil.
 */

/** ProfitUnlock.unlocked: how much of `locked` has unlocked at `t` on the line from `start` to `end` (rounds down). */
export function unlocked(locked: bigint, start: bigint, end: bigint, t: bigint): bigint {
  if (t >= end) return locked;
  if (t <= start) return 0n;
  return (locked * (t - start)) / (end - start);
}

/**
 * ProfitUnlock.mergedDuration: how long `remaining + amount` takes to unlock when `amount` arrives
 * while `remaining` still had `remainingTime` to go (amount-weighted average, rounded down).
 */
export function mergedDuration(
  remaining: bigint,
  remainingTime: bigint,
  amount: bigint,
  period: bigint,
): bigint {
  if (remaining === 0n) return period;
  return (remaining * remainingTime + amount * period) / (remaining + amount);
}

/** The unlocking state of one vault, as its storage holds it. */
export interface UnlockState {
  /** deposits − withdrawals + revenue unlocked up to `lockStart`. */
  storedAssets: bigint;
  /** Revenue not yet unlocked at `lockStart`. */
  locked: bigint;
  lockStart: bigint;
  lockEnd: bigint;
  /** Vault shares outstanding: with none, the vault holds nothing locked. */
  totalSupply: bigint;
}

/** ModelVault.totalAssets at time `t` (no deposit, withdrawal or revenue in between). */
export function totalAssetsAt(state: UnlockState, t: bigint): bigint {
  return state.storedAssets + unlockedSince(state, t);
}

/** ModelVault.lockedRevenue at time `t`. */
export function lockedRevenueAt(state: UnlockState, t: bigint): bigint {
  return state.locked - unlockedSince(state, t);
}

function unlockedSince(state: UnlockState, t: bigint): bigint {
  if (state.totalSupply === 0n) return 0n;
  return unlocked(state.locked, state.lockStart, state.lockEnd, t);
}

/** ModelVault.receiveRevenue into a vault with no shares: it reverts (ModelVault_NoShares). */
export class EmptyVaultRevenueError extends Error {
  constructor(readonly details: { amount: bigint }) {
    super("a vault with no shares takes no revenue (it goes to the model's holders)");
    this.name = "EmptyVaultRevenueError";
  }
}

/**
 * ModelVault._checkpoint at `now`: moves what has unlocked into `storedAssets` and restarts the
 * line from now. The vault checkpoints only while it has shares (an empty vault holds nothing locked).
 */
export function checkpoint(state: UnlockState, now: bigint): UnlockState {
  let { storedAssets, locked } = state;
  if (locked !== 0n) {
    const released = unlocked(locked, state.lockStart, state.lockEnd, now);
    storedAssets += released;
    locked -= released;
  }
  return { ...state, storedAssets, locked, lockStart: now };
}

/**
 * ModelVault._releaseIfEmpty at `now`: with no shares left, what is still locked goes to the
 * model's holders (`released`), and the line is reset to now.
 */
export function releaseIfEmpty(state: UnlockState, now: bigint): { state: UnlockState; released: bigint } {
  if (state.locked === 0n || state.totalSupply !== 0n) return { state, released: 0n };
  return { state: { ...state, locked: 0n, lockStart: now, lockEnd: now }, released: state.locked };
}

/** ModelVault.receiveRevenue(amount) at `now` with the factory's `period`. */
export function receiveRevenue(state: UnlockState, amount: bigint, now: bigint, period: bigint): UnlockState {
  if (amount === 0n) return state;
  if (state.totalSupply === 0n) throw new EmptyVaultRevenueError({ amount });
  const s = checkpoint(state, now);
  const remainingTime = s.lockEnd > now ? s.lockEnd - now : 0n;
  const duration = mergedDuration(s.locked, remainingTime, amount, period);
  return { ...s, locked: s.locked + amount, lockEnd: now + duration };
}

/** A deposit of `assets` for `shares` at `now`. */
export function deposit(state: UnlockState, assets: bigint, shares: bigint, now: bigint): UnlockState {
  const s = checkpoint(releaseIfEmpty(state, now).state, now);
  return { ...s, storedAssets: s.storedAssets + assets, totalSupply: s.totalSupply + shares };
}

/**
 * A withdrawal or redemption paying `assets` and burning `shares` at `now`; when it burns the last
 * shares, what is still locked goes to the holders (see releaseIfEmpty).
 */
export function withdraw(state: UnlockState, assets: bigint, shares: bigint, now: bigint): UnlockState {
  const s = checkpoint(state, now);
  const after = { ...s, storedAssets: s.storedAssets - assets, totalSupply: s.totalSupply - shares };
  return releaseIfEmpty(after, now).state;
}

/**
 * Off-chain mirror of contracts/libraries/RevenueSplit.sol: how a model's settled revenue is
 * divided between the treasury, the runner, the model's vault and its share holders. Pass the
 * vault share through effectiveVaultShareBps: a vault with no shares takes nothing.
 */
export const BPS = 10_000n;

export interface RevenueParts {
  protocolFee: bigint;
  runnerFee: bigint;
  vault: bigint;
  holders: bigint;
}

export class RevenueSplitError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, bigint>,
  ) {
    super(message);
    this.name = "RevenueSplitError";
  }
}

/**
 * RevenueSplit.effectiveVaultShareBps: the vault share that applies to a settlement, none while the
 * model's vault has no shares (its part then goes to the holders, decided at settlement).
 */
export function effectiveVaultShareBps(vaultShareBps: bigint, vaultTotalSupply: bigint): bigint {
  return vaultTotalSupply === 0n ? 0n : vaultShareBps;
}

/** Fees come off the gross amount, the vault share off what remains; holders get the rest. */
export function splitRevenue(
  amount: bigint,
  protocolFeeBps: bigint,
  runnerFeeBps: bigint,
  vaultShareBps: bigint,
): RevenueParts {
  if (protocolFeeBps + runnerFeeBps > BPS) {
    throw new RevenueSplitError("fees exceed 100%", { protocolFeeBps, runnerFeeBps });
  }
  if (vaultShareBps > BPS) throw new RevenueSplitError("vault share exceeds 100%", { vaultShareBps });
  const protocolFee = (amount * protocolFeeBps) / BPS;
  const runnerFee = (amount * runnerFeeBps) / BPS;
  const net = amount - protocolFee - runnerFee;
  const vault = (net * vaultShareBps) / BPS;
  return { protocolFee, runnerFee, vault, holders: net - vault };
}

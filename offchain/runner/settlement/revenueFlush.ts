/**
 * Settlement keeps each model's settled revenue pending (one storage slot) until anyone flushes it
 * into the model's vault, its holders and the registry's usage counters (docs/contracts/Settlement.md).
 * Claims and deposits into an empty vault flush by themselves; this flushes the models a runner
 * settled for on a slow schedule, so that vaults and counters do not lag far behind.
 */

import type { Logger } from "pino";
import type { Account, Address, Hex, PublicClient, WalletClient } from "viem";
import { settlementAbi } from "../../../sdk/generated/abis";

export interface RevenueFlushOptions {
  publicClient: PublicClient;
  walletClient: WalletClient;
  account: Account;
  settlement: Address;
  log: Logger;
  /** Flushes are at least this far apart (ms); 0: after every settlement. */
  everyMs: number;
  clock: () => number;
}

export class RevenueFlushFailedError extends Error {
  constructor(
    readonly modelIds: readonly bigint[],
    readonly txHash: string,
  ) {
    super(`flushMany(${modelIds.join(", ")}) reverted`);
    this.name = "RevenueFlushFailedError";
  }
}

/** A flush the runner sent: its models and what it cost (a flush is part of settling's gas). */
export interface FlushedRevenue {
  modelIds: bigint[];
  txHash: Hex;
  gasUsed: bigint;
}

export class RevenueFlusher {
  private readonly due = new Set<bigint>();
  private lastFlushAt: number;

  constructor(private readonly options: RevenueFlushOptions) {
    this.lastFlushAt = options.clock();
  }

  /** Models a settlement left revenue pending for. */
  noteSettled(modelIds: Iterable<bigint>): void {
    for (const id of modelIds) this.due.add(id);
  }

  /** Flushes the noted models once `everyMs` has passed since the last flush; null when not due. */
  async flushIfDue(): Promise<FlushedRevenue | null> {
    const { everyMs, clock } = this.options;
    if (this.due.size === 0 || clock() - this.lastFlushAt < everyMs) return null;
    return this.flush();
  }

  /** Flushes the noted models now, in one transaction; null when none is due. */
  async flush(): Promise<FlushedRevenue | null> {
    const modelIds = [...this.due];
    if (modelIds.length === 0) return null;
    const { publicClient, walletClient, account, settlement, log } = this.options;
    const hash = await walletClient.writeContract({
      address: settlement,
      abi: settlementAbi,
      functionName: "flushMany",
      args: [modelIds],
      account,
      chain: walletClient.chain,
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new RevenueFlushFailedError(modelIds, hash);
    for (const id of modelIds) this.due.delete(id);
    this.lastFlushAt = this.options.clock();
    log.info({ models: modelIds.map(String), txHash: hash }, "flushed pending revenue");
    return { modelIds, txHash: hash, gasUsed: receipt.gasUsed };
  }
}

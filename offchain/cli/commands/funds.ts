/**
 * Before a command sends transactions: does the account have native currency for gas, and the
 * payment tokens it is about to spend? Said up front, with what it has and what it needs, rather
 * than as a node's "insufficient funds" or a token's revert halfway through (after an approve).
 */
import type { Account } from "viem";
import { call, type OpenLoRAClient } from "../../../sdk/client";
import { balanceOf, formatAmount } from "../../../sdk/token";
import { CliError, ExitCode } from "../errors";
import { amountFormatter } from "./chainOptions";

export class UnfundedAccountError extends CliError {
  constructor(message: string, details: Record<string, unknown>) {
    super(message, ExitCode.rejected, details);
    this.name = "UnfundedAccountError";
  }
}

/** Throws UnfundedAccountError unless `account` holds some gas and at least `tokens` of the payment asset. */
export async function assertFunds(client: OpenLoRAClient, account: Account, tokens = 0n): Promise<void> {
  const who = account.address;
  const native = await call(client, "eth_getBalance", () => client.publicClient.getBalance({ address: who }));
  const { symbol, decimals } = client.chain.nativeCurrency;
  if (native === 0n) {
    throw new UnfundedAccountError(
      `account ${who} has 0 ${symbol} to pay for gas: send it some ${symbol} first`,
      { account: who, native: formatAmount(native, decimals) },
    );
  }
  if (tokens === 0n) return;
  const held = await balanceOf(client, who);
  if (held < tokens) {
    const fmt = await amountFormatter(client);
    throw new UnfundedAccountError(`account ${who} has ${fmt(held)}, and this needs ${fmt(tokens)}`, {
      account: who,
      balance: held.toString(),
      needed: tokens.toString(),
    });
  }
}

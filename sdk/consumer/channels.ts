/**
 * Consumers, on-chain side: open a payment channel to a runner (funded by approve or an EIP-2612
 * permit), top it up, set its session key, request close and withdraw; read channel and lane
 * state. Paying per call off-chain is sdk/consumer/lanes.ts + payingFetch.ts; `paidFetch` below
 * wires them to a channel of this deployment.
 */
import { type Account, type Address, type Hex, isAddressEqual, zeroAddress } from "viem";
import { call, eventsOf, type OpenLoRAClient, sendTx, signer } from "../client";
import { InvalidArgumentError } from "../errors";
import { paymentChannelsAbi } from "../generated/abis";
import { ensureAllowance, signPermit } from "../token";
import { ChannelLanes } from "./lanes";
import { createPayingFetch, type PaidReceipt } from "./payingFetch";

const channels = (client: OpenLoRAClient) =>
  ({ address: client.deployment.paymentChannels, abi: paymentChannelsAbi }) as const;

/** open: usable; closing: close requested, runner may still settle; closable: the consumer may withdraw; closed: withdrawn. */
export type ChannelState = "open" | "closing" | "closable" | "closed";

export interface ChannelInfo {
  channelId: bigint;
  consumer: Address;
  runner: Address;
  sessionKey: Address | null;
  previousSessionKey: Address | null;
  previousKeyValidUntil: bigint;
  /** Cumulative deposits. */
  deposited: bigint;
  /** Cumulative amount paid to the runner by settlement. */
  paid: bigint;
  /** What the channel holds now (deposits − paid; 0 once withdrawn). */
  balance: bigint;
  /** End of the challenge period; 0 while no close is pending. */
  closesAt: bigint;
  state: ChannelState;
}

export interface FundingOptions {
  /** Fund with an EIP-2612 permit signature instead of an approve transaction. */
  permit?: boolean;
}

function positive(amount: bigint, what: string) {
  if (amount <= 0n) throw new InvalidArgumentError(`${what} must be positive, got ${amount}`);
}

/** Opens a channel from the client's account to `runner` with a first deposit of `amount`. */
export async function openChannel(
  client: OpenLoRAClient,
  params: { runner: Address; amount: bigint; sessionKey?: Address } & FundingOptions,
): Promise<{ channelId: bigint; hash: Hex }> {
  positive(params.amount, "the deposit");
  const sessionKey = params.sessionKey ?? zeroAddress;
  let result: Awaited<ReturnType<typeof sendTx>>;
  if (params.permit) {
    const p = await signPermit(client, client.deployment.paymentChannels, params.amount);
    result = await sendTx(client, "PaymentChannels.openWithPermit", {
      ...channels(client),
      functionName: "openWithPermit",
      args: [params.runner, params.amount, sessionKey, p.deadline, p.v, p.r, p.s],
    });
  } else {
    await ensureAllowance(client, client.deployment.paymentChannels, params.amount);
    result = await sendTx(client, "PaymentChannels.open", {
      ...channels(client),
      functionName: "open",
      args: [params.runner, params.amount, sessionKey],
    });
  }
  const [event] = eventsOf(
    result.receipt,
    paymentChannelsAbi,
    "ChannelOpened",
    client.deployment.paymentChannels,
  );
  return { channelId: event?.args.channelId as bigint, hash: result.hash };
}

/** Adds `amount` to a channel (cancels a pending close). */
export async function topUpChannel(
  client: OpenLoRAClient,
  channelId: bigint,
  amount: bigint,
  options: FundingOptions = {},
): Promise<{ deposited: bigint; hash: Hex }> {
  positive(amount, "the top-up");
  let result: Awaited<ReturnType<typeof sendTx>>;
  if (options.permit) {
    const p = await signPermit(client, client.deployment.paymentChannels, amount);
    result = await sendTx(client, "PaymentChannels.topUpWithPermit", {
      ...channels(client),
      functionName: "topUpWithPermit",
      args: [channelId, amount, p.deadline, p.v, p.r, p.s],
    });
  } else {
    await ensureAllowance(client, client.deployment.paymentChannels, amount);
    result = await sendTx(client, "PaymentChannels.topUp", {
      ...channels(client),
      functionName: "topUp",
      args: [channelId, amount],
    });
  }
  const [event] = eventsOf(
    result.receipt,
    paymentChannelsAbi,
    "ChannelToppedUp",
    client.deployment.paymentChannels,
  );
  return { deposited: event?.args.deposited as bigint, hash: result.hash };
}

/** Sets (or with null removes) the key that may sign vouchers for the consumer in this channel. */
export async function setSessionKey(
  client: OpenLoRAClient,
  channelId: bigint,
  sessionKey: Address | null,
): Promise<{ hash: Hex }> {
  const { hash } = await sendTx(client, "PaymentChannels.setSessionKey", {
    ...channels(client),
    functionName: "setSessionKey",
    args: [channelId, sessionKey ?? zeroAddress],
  });
  return { hash };
}

/** Starts the challenge period; the consumer can withdraw from `closesAt` on. */
export async function requestClose(
  client: OpenLoRAClient,
  channelId: bigint,
): Promise<{ closesAt: bigint; hash: Hex }> {
  const { hash, receipt } = await sendTx(client, "PaymentChannels.requestClose", {
    ...channels(client),
    functionName: "requestClose",
    args: [channelId],
  });
  const [event] = eventsOf(receipt, paymentChannelsAbi, "CloseRequested", client.deployment.paymentChannels);
  return { closesAt: event?.args.closesAt as bigint, hash };
}

/** Withdraws what the channel still holds once its challenge period is over; closes it for good. */
export async function withdrawChannel(
  client: OpenLoRAClient,
  channelId: bigint,
): Promise<{ amount: bigint; paid: bigint; hash: Hex }> {
  const { hash, receipt } = await sendTx(client, "PaymentChannels.withdraw", {
    ...channels(client),
    functionName: "withdraw",
    args: [channelId],
  });
  const [event] = eventsOf(
    receipt,
    paymentChannelsAbi,
    "ChannelWithdrawn",
    client.deployment.paymentChannels,
  );
  return { amount: event?.args.amount as bigint, paid: event?.args.paid as bigint, hash };
}

const orNull = (a: Address) => (isAddressEqual(a, zeroAddress) ? null : a);

export async function getChannel(client: OpenLoRAClient, channelId: bigint): Promise<ChannelInfo> {
  const [c, balance, block] = await call(client, `PaymentChannels.getChannel(${channelId})`, () =>
    Promise.all([
      client.publicClient.readContract({
        ...channels(client),
        functionName: "getChannel",
        args: [channelId],
      }),
      client.publicClient.readContract({ ...channels(client), functionName: "balanceOf", args: [channelId] }),
      client.publicClient.getBlock({ blockTag: "latest" }),
    ]),
  );
  const state: ChannelState = c.withdrawn
    ? "closed"
    : c.closesAt === 0n
      ? "open"
      : block.timestamp >= c.closesAt
        ? "closable"
        : "closing";
  return {
    channelId,
    consumer: c.consumer,
    runner: c.runner,
    sessionKey: orNull(c.sessionKey),
    previousSessionKey: orNull(c.previousSessionKey),
    previousKeyValidUntil: c.previousKeyValidUntil,
    deposited: c.deposited,
    paid: c.paid,
    balance,
    closesAt: c.closesAt,
    state,
  };
}

/** What has been paid in the lane (channel, model): its last settled voucher's cumulative values. */
export async function getLane(
  client: OpenLoRAClient,
  channelId: bigint,
  modelId: bigint,
): Promise<{ paidAmount: bigint; paidCalls: bigint }> {
  const lane = await call(client, "PaymentChannels.getLane", () =>
    client.publicClient.readContract({
      ...channels(client),
      functionName: "getLane",
      args: [channelId, modelId],
    }),
  );
  return { paidAmount: lane.paidAmount, paidCalls: lane.paidCalls };
}

/** The deployment's first block (from the deployments file), where log scans start. */
export function startBlock(client: OpenLoRAClient): bigint {
  return BigInt(client.deployment.startBlock ?? 0);
}

/** Ids of every channel `consumer` opened (from ChannelOpened logs), ascending. */
export async function channelsOf(client: OpenLoRAClient, consumer: Address): Promise<bigint[]> {
  const logs = await call(client, "PaymentChannels ChannelOpened logs", () =>
    client.publicClient.getContractEvents({
      ...channels(client),
      eventName: "ChannelOpened",
      args: { consumer },
      fromBlock: startBlock(client),
      toBlock: "latest",
    }),
  );
  return logs.map((l) => l.args.channelId as bigint).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Whether `account` may sign vouchers for the channel now (consumer or a valid session key). */
export async function isAuthorizedSigner(
  client: OpenLoRAClient,
  channelId: bigint,
  account: Address,
): Promise<boolean> {
  return call(client, "PaymentChannels.isAuthorizedSigner", () =>
    client.publicClient.readContract({
      ...channels(client),
      functionName: "isAuthorizedSigner",
      args: [channelId, account],
    }),
  );
}

/** The lanes of a channel of this deployment, signing with `voucherSigner` (default: the client's account). */
export function channelLanes(
  client: OpenLoRAClient,
  channelId: bigint,
  voucherSigner?: Account,
): ChannelLanes {
  const account = voucherSigner ?? signer(client, "signing vouchers");
  if (account.type !== "local")
    throw new InvalidArgumentError("vouchers need a local account (a private key)");
  return new ChannelLanes(account, client.deployment.chainId, client.deployment.paymentChannels, channelId, {
    settledLane: (modelId) => getLane(client, channelId, modelId),
  });
}

/**
 * A `fetch` that pays per call on `channelId` (answers 402s with vouchers, checks receipts):
 * the consumer's everyday client. Receipts go to `onReceipt`.
 */
export function paidFetch(
  client: OpenLoRAClient,
  options: {
    channelId: bigint;
    voucherSigner?: Account;
    maxPricePerCall?: bigint;
    onReceipt?(paid: PaidReceipt): void;
    lanes?: ChannelLanes;
    /** Terms for every request: for POST /v1/embeddings (see createPayingFetch). */
    quoteEachRequest?: boolean;
  },
) {
  const lanes = options.lanes ?? channelLanes(client, options.channelId, options.voucherSigner);
  return createPayingFetch({
    lanes,
    ...(options.maxPricePerCall !== undefined ? { maxPricePerCall: options.maxPricePerCall } : {}),
    ...(options.onReceipt ? { onReceipt: options.onReceipt } : {}),
    ...(options.quoteEachRequest ? { quoteEachRequest: true } : {}),
  });
}

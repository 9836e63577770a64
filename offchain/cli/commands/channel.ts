/**
 * `openlora channel open|topup|close|withdraw|show`: a consumer's payment channels to a runner.
 */
import type { Command } from "commander";
import type { Account, Address } from "viem";
import { chainTime } from "../../../sdk/client";
import {
  type ChannelInfo,
  getChannel,
  openChannel,
  requestClose,
  topUpChannel,
  withdrawChannel,
} from "../../../sdk/consumer/channels";
import {
  action,
  amountFormatter,
  connect,
  output,
  parseAddress,
  parseId,
  progress,
  tokenAmount,
  withChainOptions,
} from "./chainOptions";
import { formatDate } from "./dates";
import { assertFunds } from "./funds";

const address = parseAddress;

/** A channel as lines to read; `now` is the chain's time, for how far off its closing is. */
export function describeChannel(c: ChannelInfo, fmt: (v: bigint) => string, now: bigint): string[] {
  const closes =
    c.state === "closing" || c.state === "closable"
      ? ` (challenge period ${c.state === "closing" ? "ends" : "ended"} ${formatDate(c.closesAt, now)})`
      : "";
  return [
    `channel ${c.channelId}: ${c.state}${closes}`,
    `  consumer     ${c.consumer}`,
    `  runner       ${c.runner}`,
    `  session key  ${c.sessionKey ?? "none"}`,
    `  deposited    ${fmt(c.deposited)}`,
    `  paid         ${fmt(c.paid)}`,
    `  balance      ${fmt(c.balance)}`,
  ];
}

export function registerChannel(program: Command): void {
  const channel = program
    .command("channel")
    .description("open, top up, close and withdraw payment channels to a runner");

  withChainOptions(
    channel
      .command("open")
      .description("open a channel to a runner with a first deposit")
      .requiredOption(
        "--runner <address>",
        "the runner to pay (registered in the RunnerRegistry)",
        address("--runner"),
      )
      .requiredOption("--amount <tUSD>", "first deposit, in payment-asset units")
      .option(
        "--session-key <address>",
        "a key that may sign vouchers for you in this channel",
        address("--session-key"),
      )
      .option("--permit", "fund with an EIP-2612 permit signature instead of an approve transaction"),
  ).action(
    action(
      async (
        options: { runner: Address; amount: string; sessionKey?: Address; permit?: boolean },
        command: Command,
      ) => {
        const { client, account } = await connect(command, { account: true });
        const amount = await tokenAmount(client, options.amount, "--amount");
        await assertFunds(client, account as Account, amount);
        progress(command, `opening a channel to ${options.runner}…`);
        const { channelId, hash } = await openChannel(client, {
          runner: options.runner,
          amount,
          ...(options.sessionKey ? { sessionKey: options.sessionKey } : {}),
          permit: Boolean(options.permit),
        });
        const info = await getChannel(client, channelId);
        const fmt = await amountFormatter(client);
        const now = await chainTime(client);
        output(command, { channelId, transaction: hash, channel: info }, () => [
          `opened channel ${channelId} (${hash})`,
          ...describeChannel(info, fmt, now).slice(1),
        ]);
      },
    ),
  );

  withChainOptions(
    channel
      .command("topup")
      .description("add funds to a channel (cancels a pending close)")
      .argument("<channelId>", "the channel", parseId("channelId"))
      .requiredOption("--amount <tUSD>", "amount to add")
      .option("--permit", "fund with an EIP-2612 permit signature"),
  ).action(
    action(async (channelId: bigint, options: { amount: string; permit?: boolean }, command: Command) => {
      const { client, account } = await connect(command, { account: true });
      const amount = await tokenAmount(client, options.amount, "--amount");
      await assertFunds(client, account as Account, amount);
      const { deposited, hash } = await topUpChannel(client, channelId, amount, {
        permit: Boolean(options.permit),
      });
      const fmt = await amountFormatter(client);
      output(command, { channelId, deposited, transaction: hash }, () => [
        `topped up channel ${channelId} by ${fmt(amount)}: ${fmt(deposited)} deposited in all (${hash})`,
      ]);
    }),
  );

  withChainOptions(
    channel
      .command("close")
      .description("request to close a channel: the runner may still settle until the challenge period ends")
      .argument("<channelId>", "the channel", parseId("channelId")),
  ).action(
    action(async (channelId: bigint, _options: unknown, command: Command) => {
      const { client, account } = await connect(command, { account: true });
      await assertFunds(client, account as Account);
      const { closesAt, hash } = await requestClose(client, channelId);
      const when = formatDate(closesAt, await chainTime(client));
      output(command, { channelId, closesAt, transaction: hash }, () => [
        `close requested for channel ${channelId}: withdraw the rest from ${when} with \`openlora channel withdraw ${channelId}\``,
      ]);
    }),
  );

  withChainOptions(
    channel
      .command("withdraw")
      .description("withdraw what a channel still holds after its challenge period; closes it for good")
      .argument("<channelId>", "the channel", parseId("channelId")),
  ).action(
    action(async (channelId: bigint, _options: unknown, command: Command) => {
      const { client, account } = await connect(command, { account: true });
      await assertFunds(client, account as Account);
      const { amount, paid, hash } = await withdrawChannel(client, channelId);
      const fmt = await amountFormatter(client);
      output(command, { channelId, amount, paid, transaction: hash }, () => [
        `withdrew ${fmt(amount)} from channel ${channelId}; the runner was paid ${fmt(paid)} in all (${hash})`,
      ]);
    }),
  );

  withChainOptions(
    channel
      .command("show")
      .description("a channel's state and balances")
      .argument("<channelId>", "the channel", parseId("channelId")),
  ).action(
    action(async (channelId: bigint, _options: unknown, command: Command) => {
      const { client } = await connect(command, { account: false });
      const info = await getChannel(client, channelId);
      const fmt = await amountFormatter(client);
      const now = await chainTime(client);
      output(command, { channel: info }, () => describeChannel(info, fmt, now));
    }),
  );
}

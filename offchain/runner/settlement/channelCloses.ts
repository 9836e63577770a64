/**
 * The challenge deadlines of the channels a runner has unsettled calls in: after a consumer's
 * `requestClose`, the runner has until `closesAt` to settle, and its vouchers are worthless after.
 * Each channel's state is read once (`getChannel`), when the runner first needs it; from then on
 * the `CloseRequested` and `CloseCancelled` events since the last look keep it current: one log
 * query per look, however many channels the runner serves.
 */
import type { Address, PublicClient } from "viem";
import { paymentChannelsAbi } from "../../../sdk/generated/abis";

const closeEvents = paymentChannelsAbi.filter(
  (item) => item.type === "event" && (item.name === "CloseRequested" || item.name === "CloseCancelled"),
);
/** Channels read at once. */
const READS_AT_ONCE = 8;
/** Blocks per log query: nodes refuse wide ranges. */
const LOG_BLOCKS = 5_000n;

export class ChannelCloses {
  /** Challenge deadlines (unix seconds) of channels with a close pending. */
  private readonly deadlines = new Map<bigint, bigint>();
  /** Channels whose state was read, and kept current by events since. */
  private readonly known = new Set<bigint>();
  private scannedThrough: bigint | null = null;

  constructor(
    private readonly client: PublicClient,
    private readonly paymentChannels: Address,
  ) {}

  /** The channel's challenge deadline in unix seconds, while a close is pending. */
  deadline(channelId: bigint): bigint | undefined {
    return this.deadlines.get(channelId);
  }

  /** Brings the deadlines of `channels` up to the chain's head. */
  async refresh(channels: Iterable<bigint>): Promise<void> {
    // Not viem's cached block number: a close in the block just mined must not wait a poll.
    const head = await this.client.getBlockNumber({ cacheTime: 0 });
    if (this.scannedThrough !== null && head > this.scannedThrough)
      await this.scan(this.scannedThrough + 1n, head);
    // Read after the head was taken: the events of later blocks come with the next look.
    await this.read([...new Set(channels)].filter((channel) => !this.known.has(channel)));
    this.scannedThrough = head;
  }

  private async read(channels: bigint[]): Promise<void> {
    for (let from = 0; from < channels.length; from += READS_AT_ONCE) {
      await Promise.all(
        channels.slice(from, from + READS_AT_ONCE).map(async (channelId) => {
          const channel = await this.client.readContract({
            address: this.paymentChannels,
            abi: paymentChannelsAbi,
            functionName: "getChannel",
            args: [channelId],
          });
          if (channel.closesAt !== 0n && !channel.withdrawn) this.deadlines.set(channelId, channel.closesAt);
          this.known.add(channelId);
        }),
      );
    }
  }

  private async scan(fromBlock: bigint, toBlock: bigint): Promise<void> {
    for (let from = fromBlock; from <= toBlock; from += LOG_BLOCKS) {
      const to = from + LOG_BLOCKS - 1n < toBlock ? from + LOG_BLOCKS - 1n : toBlock;
      const logs = await this.client.getLogs({
        address: this.paymentChannels,
        events: closeEvents,
        fromBlock: from,
        toBlock: to,
        strict: true,
      });
      for (const log of logs) {
        const { channelId } = log.args as { channelId: bigint; closesAt?: bigint };
        if (log.eventName === "CloseRequested")
          this.deadlines.set(channelId, (log.args as { closesAt: bigint }).closesAt);
        else this.deadlines.delete(channelId);
      }
    }
  }
}

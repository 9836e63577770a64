/**
 * What the runner reads from the chain: model terms from the registry and channel state
 * from PaymentChannels. Reads are cached and refreshed in the background every `cacheMs`; when
 * the RPC is down or hangs, the last known state is used (serving continues within known channel
 * balances: a voucher beyond them makes the gate read the channel afresh), and a model or channel
 * never seen before cannot be served until the chain answers again. The runner gives these
 * reads a client with a short timeout (`chainReadTimeoutMs`): a paid call on a channel never seen,
 * or one that needs a fresh read of its balance, waits for one.
 */

import type { Logger } from "pino";
import { type Address, encodeFunctionData, type Hex, type PublicClient, parseAbi } from "viem";
import { modelRegistryAbi, paymentChannelsAbi } from "../../sdk/generated/abis";
import type { ChannelSnapshot, ChannelSource, PaymentGate, SettledLane } from "../payments/paymentGate";
import type { ModelCatalog, ModelStatus, ServedModel } from "./catalog";

const ZERO: Address = "0x0000000000000000000000000000000000000000";
const STATUS: Record<number, ModelStatus> = { 1: "active", 2: "paused", 3: "retired" };

export class ChainUnavailableError extends Error {
  constructor(what: string, cause: unknown) {
    super(`cannot read ${what} from the chain: ${(cause as Error)?.message ?? cause}`, { cause });
    this.name = "ChainUnavailableError";
  }
}

/**
 * A read-through cache that never makes a caller wait for a refresh it does not need: an entry
 * older than `ttlMs` is still served at once while one refresh per key runs in the background
 * (stale-while-revalidate), and after a failed refresh it is served for another period before
 * the chain is asked again. Only a key never read, or a caller that asks for `fresh` state, waits
 * for the chain; concurrent waiters share one read. Without this, paid calls waited for every
 * refresh, entries read in one burst (a runner's first calls) came due together every `ttlMs`
 * and stalled the calls behind their queued refreshes, and an RPC that hangs stalled every call
 * by its timeout.
 */
class StaleWhileErrorCache<K, V> {
  private readonly entries = new Map<K, { value: V; due: number }>();
  private readonly refreshing = new Map<K, Promise<V>>();

  constructor(private readonly ttlMs: number) {}

  /**
   * When an entry read now is due again: `ttlMs` give or take a quarter, at random, so that
   * entries read in one burst do not all come due, and queue their refreshes, at the same time.
   */
  private dueFromNow(): number {
    return Date.now() + this.ttlMs * (0.75 + Math.random() / 2);
  }

  async get(key: K, load: () => Promise<V>, what: string, fresh = false): Promise<V> {
    const entry = this.entries.get(key);
    if (entry && !fresh) {
      if (Date.now() >= entry.due) this.refresh(key, load, what).catch(() => {}); // never-seen keys only throw
      return entry.value;
    }
    return this.refresh(key, load, what);
  }

  /** One read per key at a time; on failure, the last known value (kept for another period). */
  private refresh(key: K, load: () => Promise<V>, what: string): Promise<V> {
    let pending = this.refreshing.get(key);
    if (!pending) {
      pending = this.read(key, load, what).finally(() => this.refreshing.delete(key));
      this.refreshing.set(key, pending);
    }
    return pending;
  }

  private async read(key: K, load: () => Promise<V>, what: string): Promise<V> {
    try {
      const value = await load();
      this.entries.set(key, { value, due: this.dueFromNow() });
      return value;
    } catch (error) {
      const entry = this.entries.get(key);
      if (!entry) throw new ChainUnavailableError(what, error);
      entry.due = this.dueFromNow(); // served for another period before the chain is asked again
      return entry.value;
    }
  }
}

/** Reverts of a view for an unknown id mean "does not exist", not "chain down". */
function isRevert(error: unknown): boolean {
  const text = String((error as Error)?.message ?? error);
  return /revert/i.test(text) && !/fetch failed|ECONNREFUSED|timed? ?out/i.test(text);
}

export class ChainModelCatalog implements ModelCatalog {
  private readonly cache: StaleWhileErrorCache<bigint, ServedModel | null>;
  private readonly countCache: StaleWhileErrorCache<"count", bigint>;

  constructor(
    private readonly client: PublicClient,
    private readonly registry: Address,
    /** The registry id of the base model this runner serves: other bases' adapters are not served. */
    private readonly baseModelId: bigint,
    private readonly served: "all" | readonly bigint[],
    cacheMs: number,
  ) {
    this.cache = new StaleWhileErrorCache(cacheMs);
    this.countCache = new StaleWhileErrorCache(cacheMs);
  }

  async model(modelId: bigint): Promise<ServedModel | null> {
    if (this.served !== "all" && !this.served.includes(modelId)) return null;
    return this.cache.get(modelId, () => this.read(modelId), `model ${modelId}`);
  }

  async models(): Promise<ServedModel[]> {
    const ids =
      this.served === "all"
        ? await this.countCache
            .get(
              "count",
              () =>
                this.client.readContract({
                  address: this.registry,
                  abi: modelRegistryAbi,
                  functionName: "modelCount",
                }),
              "the model count",
            )
            .then((count) => Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1)))
        : this.served;
    const models = await Promise.all(ids.map((id) => this.model(id).catch(() => null)));
    return models.filter((m): m is ServedModel => m !== null);
  }

  private async read(modelId: bigint): Promise<ServedModel | null> {
    let model: Awaited<ReturnType<typeof this.readModel>>;
    try {
      model = await this.readModel(modelId);
    } catch (error) {
      if (isRevert(error)) return null; // not registered
      throw error;
    }
    if (model.baseModelId !== this.baseModelId) return null;
    return {
      modelId,
      adapterHash: model.adapterHash.toLowerCase() as Hex,
      pricePerCall: model.pricePerCall,
      status: STATUS[model.status] ?? "paused",
      metadataURI: model.metadataURI,
    };
  }

  private readModel(modelId: bigint) {
    return this.client.readContract({
      address: this.registry,
      abi: modelRegistryAbi,
      functionName: "getModel",
      args: [modelId],
    });
  }
}

const erc1271Abi = parseAbi([
  "function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4 magicValue)",
]);
/** What ERC-1271's isValidSignature returns to approve: its selector, as a left-aligned bytes32 word. */
const ERC1271_MAGIC_WORD = `0x1626ba7e${"00".repeat(28)}`;

export class ChainChannelSource implements ChannelSource {
  private readonly cache: StaleWhileErrorCache<bigint, ChannelSnapshot | null>;
  /** Whether an account has code (signs through ERC-1271), by lower-case address. */
  private readonly hasCode: StaleWhileErrorCache<string, boolean>;

  constructor(
    private readonly client: PublicClient,
    private readonly paymentChannels: Address,
    cacheMs: number,
  ) {
    this.cache = new StaleWhileErrorCache(cacheMs);
    this.hasCode = new StaleWhileErrorCache(cacheMs);
  }

  /**
   * SignatureChecker.isValidERC1271SignatureNow, as PaymentChannels calls it where the consumer
   * has code (null where it has none): isValidSignature(digest, signature) returns at least 32
   * bytes whose first word is exactly the selector (a revert or anything else refuses). Whether
   * an account has code is read once per period.
   */
  async contractApproves(account: Address, digest: Hex, signature: Hex): Promise<boolean | null> {
    const key = account.toLowerCase();
    const code = () => this.client.getCode({ address: account }).then((bytes) => (bytes ?? "0x") !== "0x");
    if (!(await this.hasCode.get(key, code, `the code of ${account}`))) return null;
    let data: Hex | undefined;
    try {
      ({ data } = await this.client.call({
        to: account,
        data: encodeFunctionData({
          abi: erc1271Abi,
          functionName: "isValidSignature",
          args: [digest, signature],
        }),
      }));
    } catch (error) {
      if (isRevert(error)) return false;
      throw new ChainUnavailableError(`${account}'s isValidSignature`, error);
    }
    return data !== undefined && data.slice(0, 66).toLowerCase() === ERC1271_MAGIC_WORD;
  }

  channel(channelId: bigint, options: { fresh?: boolean } = {}): Promise<ChannelSnapshot | null> {
    return this.cache.get(channelId, () => this.read(channelId), `channel ${channelId}`, options.fresh);
  }

  async settledLane(channelId: bigint, modelId: bigint): Promise<SettledLane> {
    try {
      const lane = await this.client.readContract({
        address: this.paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "getLane",
        args: [channelId, modelId],
      });
      return { paidAmount: lane.paidAmount, paidCalls: lane.paidCalls };
    } catch (error) {
      throw new ChainUnavailableError(`lane ${channelId}:${modelId}`, error);
    }
  }

  private async read(channelId: bigint): Promise<ChannelSnapshot | null> {
    let channel: Awaited<ReturnType<typeof this.readChannel>>;
    try {
      channel = await this.readChannel(channelId);
    } catch (error) {
      if (isRevert(error)) return null;
      throw error;
    }
    if (channel.consumer === ZERO) return null;
    const signers = [channel.consumer];
    if (channel.sessionKey !== ZERO) signers.push(channel.sessionKey);
    return {
      channelId,
      consumer: channel.consumer,
      runner: channel.runner,
      signers,
      // Its expiry is checked at each call (the gate), not when this snapshot was read.
      ...(channel.previousSessionKey !== ZERO && {
        previousSessionKey: {
          address: channel.previousSessionKey,
          validUntil: BigInt(channel.previousKeyValidUntil),
        },
      }),
      deposited: channel.deposited,
      closing: channel.closesAt !== 0n || channel.withdrawn,
    };
  }

  private readChannel(channelId: bigint) {
    return this.client.readContract({
      address: this.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "getChannel",
      args: [channelId],
    });
  }
}

/** Blocks asked for in one eth_getLogs: public RPCs cap the range. */
const LOG_BLOCKS_AT_ONCE = 5_000n;

/**
 * Follows the settlements of this runner's address on-chain (PaymentChannels' VoucherRedeemed
 * events, filtered by the indexed runner: one eth_getLogs per poll, whatever the number of
 * lanes) and reports each lane's new paid state to the payment gate. A second runner on the
 * same key, or this runner before its journal was restored, settles vouchers this one's journal
 * does not know; the gate must then stop serving the call numbers the chain has paid
 * (PaymentGate.observeSettledLane), and a warning says so. This runner's own settlements are
 * reported too, and change nothing. Events of a block later reorganised away may be reported:
 * the gate then refuses vouchers it could have served, never the other way round.
 */
export class SettledLaneWatcher {
  private nextBlock: bigint | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;

  constructor(
    private readonly client: PublicClient,
    private readonly paymentChannels: Address,
    private readonly runner: Address,
    private readonly gate: Pick<PaymentGate, "observeSettledLane">,
    private readonly log: Pick<Logger, "warn">,
    private readonly intervalMs: number,
  ) {}

  /** Starts from the current block: what was settled before, each lane's first call reads itself. */
  async start(): Promise<void> {
    this.nextBlock ??= (await this.client.getBlockNumber({ cacheTime: 0 })) + 1n;
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.nextBlock = null;
  }

  /** Reports the settlements mined since the last poll (one poll at a time); throws when the chain cannot be read. */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = null;
    });
    return this.polling;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      // A failed poll leaves nextBlock where it was: the next one asks for the same blocks again.
      this.poll()
        .catch(() => {})
        .finally(() => {
          if (this.timer) this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  private async pollOnce(): Promise<void> {
    if (this.nextBlock === null) throw new Error("the settled-lane watcher is not started");
    const head = await this.client.getBlockNumber({ cacheTime: 0 });
    while (this.nextBlock !== null && this.nextBlock <= head) {
      const from: bigint = this.nextBlock;
      const to: bigint = from + LOG_BLOCKS_AT_ONCE - 1n < head ? from + LOG_BLOCKS_AT_ONCE - 1n : head;
      const events = await this.client.getContractEvents({
        address: this.paymentChannels,
        abi: paymentChannelsAbi,
        eventName: "VoucherRedeemed",
        args: { runner: this.runner },
        fromBlock: from,
        toBlock: to,
        strict: true,
      });
      for (const { args, transactionHash } of events) {
        const paid = { paidAmount: args.cumulativeAmount, paidCalls: BigInt(args.cumulativeCalls) };
        const replaced = this.gate.observeSettledLane(args.channelId, args.modelId, paid);
        if (!replaced) continue;
        this.log.warn(
          {
            channelId: args.channelId,
            modelId: args.modelId,
            accepted: { amount: replaced.cumulativeAmount, calls: replaced.cumulativeCalls },
            paidOnChain: { amount: paid.paidAmount, calls: paid.paidCalls },
            txHash: transactionHash,
          },
          "the chain has paid a lane beyond what this runner accepted (another runner on this key?): its vouchers up to there are now refused as stale",
        );
      }
      if (this.nextBlock !== null) this.nextBlock = to + 1n;
    }
  }
}

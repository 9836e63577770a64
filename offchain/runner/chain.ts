/**
 * What the runner reads from the chain: model terms from the registry and channel state
 * from PaymentChannels. Reads are cached and refreshed in the background every `cacheMs`; when
 * the RPC is down or hangs, the last known state is used (serving continues within known channel
 * balances: a voucher beyond them makes the gate read the channel afresh), and a model or channel
 * never seen before cannot be served until the chain answers again. The runner gives these
 * reads a client with a short timeout (`chainReadTimeoutMs`): a paid call on a channel never seen,
 * or one that needs a fresh read of its balance, waits for one.
 */
import type { Address, Hex, PublicClient } from "viem";
import { modelRegistryAbi, paymentChannelsAbi } from "../../sdk/generated/abis";
import type { ChannelSnapshot, ChannelSource, SettledLane } from "../payments/paymentGate";
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

export class ChainChannelSource implements ChannelSource {
  private readonly cache: StaleWhileErrorCache<bigint, ChannelSnapshot | null>;

  constructor(
    private readonly client: PublicClient,
    private readonly paymentChannels: Address,
    cacheMs: number,
  ) {
    this.cache = new StaleWhileErrorCache(cacheMs);
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
    const now = BigInt(Math.floor(Date.now() / 1000));
    const signers = [channel.consumer];
    if (channel.sessionKey !== ZERO) signers.push(channel.sessionKey);
    if (channel.previousSessionKey !== ZERO && channel.previousKeyValidUntil > now) {
      signers.push(channel.previousSessionKey);
    }
    return {
      channelId,
      consumer: channel.consumer,
      runner: channel.runner,
      signers,
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

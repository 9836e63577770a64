/**
 * The dashboard's state and its fan-out: it aggregates what the runner serves (every paid call,
 * with its latency and how its price splits between the treasury, the runner, the model's vault
 * and its share holders) and what the chain records (registrations, settled usage, batches,
 * revenue distributions, claims, vaults), and pushes snapshots and paid calls to every page that
 * listens (server-sent events).
 *
 * Chain state comes from views (chainReader.ts) and from the contracts' events, polled with
 * eth_getLogs block range by block range: a log names what changed, the views give the figures,
 * so a missed or reordered log never leaves a wrong number on the page.
 */
import type { Logger } from "pino";
import {
  type Address,
  formatUnits,
  type Hex,
  isAddressEqual,
  type Log,
  type PublicClient,
  parseEventLogs,
} from "viem";
import type { Deployment } from "../../sdk/deployments";
import {
  coTrainingSharesAbi,
  modelRegistryAbi,
  modelVaultAbi,
  runnerRegistryAbi,
  settlementAbi,
} from "../../sdk/generated/abis";
import { splitRevenue } from "../../sdk/math/revenueSplit";
import { formatDate } from "../cli/commands/dates";
import type { ModelCatalog, ServedModel } from "../runner/catalog";
import type { PaidAnswer } from "../runner/paidCall";
import type { ReceiptProof, SettledBatch } from "../runner/settlement/settler";
import {
  ChainReader,
  type FeesOnChain,
  type HoldersOnChain,
  type ModelOnChain,
  type VaultOnChain,
} from "./chainReader";
import { LatencyWindow, RateWindow } from "./stats";

const EVENTS = [
  ...modelRegistryAbi,
  ...coTrainingSharesAbi,
  ...settlementAbi,
  ...modelVaultAbi,
  ...runnerRegistryAbi,
].filter((item) => item.type === "event");

/** The stages of the deployment → attribution → reward flow, in order. */
export const STAGES = ["registered", "attributed", "settled", "rewarded"] as const;
export type StageName = (typeof STAGES)[number];

export interface DashboardOptions {
  publicClient: PublicClient;
  deployment: Deployment;
  /** The runner's account: its batches, fees and fee terms. */
  runner: Address;
  chainId: number;
  catalog: ModelCatalog;
  settler: {
    /** The latest settled batches (the settler keeps the last few). */
    readonly settledBatches: readonly SettledBatch[];
    readonly settled: { readonly batches: number };
    readonly pendingCalls: number;
  };
  log: Logger;
  /** How often the chain is polled for new blocks (ms). */
  pollMs?: number;
  /** How often snapshots are pushed at most (ms). */
  pushMs?: number;
  /** At most this many blocks of history are scanned at start. */
  historyBlocks?: bigint;
}

/** One way a call's price splits; holders by their share units. */
export interface CallSplit {
  protocolFee: bigint;
  runnerFee: bigint;
  vault: bigint;
  holders: { account: Address; amount: bigint }[];
}

interface Stage {
  count: number;
  amount: bigint;
  lastAt: number | null;
  detail: string;
}

interface ModelState {
  modelId: bigint;
  served: ServedModel;
  chain: ModelOnChain | null;
  holders: HoldersOnChain | null;
  vault: VaultOnChain | null;
  // This runner's paid calls since it started.
  calls: number;
  revenue: bigint;
  rate: RateWindow;
  latency: LatencyWindow;
  /** Per-call splits added up: the micropayments the page animates. */
  streamed: { protocolFee: bigint; runnerFee: bigint; vault: bigint; holders: Map<string, bigint> };
  /**
   * Settlement's events added up (every runner): `RevenuePending` gives the calls, the amount and
   * the fees (amount less net); `RevenueFlushed` the vault's and the holders' parts; `pending` is
   * the net not yet flushed.
   */
  distributed: {
    calls: bigint;
    amount: bigint;
    fees: bigint;
    pending: bigint;
    vault: bigint;
    holders: bigint;
  };
  /** RewardsClaimed per account. */
  claimed: Map<string, bigint>;
}

/** Receives each event with its data as JSON. */
type Listener = (event: "snapshot" | "calls", json: string) => void;

const key = (address: string) => address.toLowerCase();

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

export class DashboardHub {
  private readonly reader: ChainReader;
  private readonly models = new Map<bigint, ModelState>();
  private readonly vaultModels = new Map<string, bigint>();
  private readonly stages = Object.fromEntries(
    STAGES.map((s) => [s, { count: 0, amount: 0n, lastAt: null, detail: "" }]),
  ) as Record<StageName, Stage>;
  private readonly listeners = new Set<Listener>();
  private readonly stopHooks = new Set<() => void>();
  private readonly startedAt = Date.now();
  private asset = { symbol: "", decimals: 6 };
  private fees: FeesOnChain | null = null;
  private cursor: bigint | null = null; // last block whose logs were handled
  private historyFrom: bigint | null = null;
  private block: bigint | null = null;
  private chainError: string | null = null;
  private pendingCalls: unknown[] = [];
  private dirty = true;
  private pushTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private stopped = true;
  private failures = 0;
  private batchesSeen = -1;
  /**
   * What logs (or a first paid call) said changed: re-read from views, kept until a read
   * succeeds. `stale` holds what a call's split needs (terms, share units, fee rates) and is
   * re-read on every poll.
   */
  private readonly stale = emptyStale();
  /**
   * What only the page shows (usage totals, rewards, vaults, batch counts): re-read while a page
   * listens, or when one asks for the state: otherwise every settlement, watched or not, would
   * cost the runner's event loop seven fee views and, per model it paid, the model, its holders
   * and six vault views.
   */
  private readonly shownStale = emptyStale();
  /** Refreshes run one at a time, so an older read never lands after a newer one. */
  private refreshing: Promise<void> = Promise.resolve();
  private pendingSeen = -1;
  /** BatchSettled of this runner added up over the history scanned (no view counts calls). */
  private settledUsage = { calls: 0n, lanes: 0n };
  /** Resolves after the first poll, read or failed: the page's first paint waits for it. */
  private readonly firstPoll: Promise<void>;
  private firstPollDone: () => void = () => {};

  constructor(private readonly options: DashboardOptions) {
    this.reader = new ChainReader(options.publicClient, options.deployment, options.runner);
    this.firstPoll = new Promise((resolve) => {
      this.firstPollDone = resolve;
    });
  }

  /** Starts polling the chain (the first poll reads everything and scans the history). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.pushTimer) clearTimeout(this.pushTimer);
    this.pollTimer = this.pushTimer = null;
    for (const hook of [...this.stopHooks]) hook();
    this.stopHooks.clear();
    this.listeners.clear();
  }

  /** Runs `hook` when the hub stops (the event streams close, so the server can). Returns the remover. */
  onStop(hook: () => void): () => void {
    this.stopHooks.add(hook);
    return () => this.stopHooks.delete(hook);
  }

  /** Registers a page: it gets a snapshot now and every change after. Returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    listener("snapshot", toJson(this.snapshot()));
    // What went unread while nobody looked follows at once, not at the next poll.
    if (this.cursor !== null && hasAny(this.shownStale)) {
      this.refreshInTurn(true).then(
        () => this.schedulePush(),
        () => {}, // stays stale: the next poll retries and reports
      );
    }
    return () => this.listeners.delete(listener);
  }

  /**
   * The snapshot as JSON, with what only the page shows read first (GET /dashboard/state, and the
   * page's first paint). Right after start it waits up to `waitMs` for the first poll, so that a
   * page opened then shows the chain's history rather than empty counters.
   */
  async state(waitMs = 0): Promise<string> {
    if (waitMs > 0) await within(this.firstPoll, waitMs);
    if (this.cursor !== null && hasAny(this.shownStale)) await this.refreshInTurn(true).catch(() => {});
    return toJson(this.snapshot());
  }

  /** The runner tells of every paid call once it is answered (cheap: counters and a split). */
  onPaidCall(served: ServedModel, answer: PaidAnswer, latencyMs: number): void {
    const m = this.modelState(served);
    if (!m.chain) this.markStale(m.modelId);
    const now = Date.now();
    m.calls++;
    m.revenue += answer.price;
    m.rate.add(1, now);
    m.latency.add(latencyMs);
    const split = this.split(m, answer.price);
    if (split) {
      m.streamed.protocolFee += split.protocolFee;
      m.streamed.runnerFee += split.runnerFee;
      m.streamed.vault += split.vault;
      for (const { account, amount } of split.holders) {
        m.streamed.holders.set(key(account), (m.streamed.holders.get(key(account)) ?? 0n) + amount);
      }
    }
    this.fire(
      "attributed",
      `model #${m.modelId} · call ${answer.receipt.callIndex} on channel ${answer.receipt.channelId} · ${this.tokens(answer.price)}`,
      answer.price,
      now,
    );
    this.pendingCalls.push({
      at: now,
      modelId: m.modelId,
      price: answer.price,
      latencyMs: Math.round(latencyMs * 100) / 100,
      requestHash: answer.receipt.requestHash,
      split,
    });
    this.schedulePush();
  }

  /** How `price` splits for this model now: splitRevenue, then the holders' part by units. */
  private split(m: ModelState, price: bigint): CallSplit | null {
    if (!this.fees || !m.chain) return null;
    const parts = splitRevenue(
      price,
      this.fees.protocolFeeBps,
      this.fees.runnerFeeBps,
      BigInt(m.chain.vaultShareBps),
    );
    const holders = m.holders?.holders ?? [];
    const total = m.holders?.totalUnits ?? 0n;
    return {
      protocolFee: parts.protocolFee,
      runnerFee: parts.runnerFee,
      vault: parts.vault,
      holders: holders.map((h) => ({
        account: h.account,
        amount: total === 0n ? 0n : (parts.holders * h.units) / total,
      })),
    };
  }

  /** Everything the page shows, bigints included (serialise with toJson). */
  snapshot() {
    const now = Date.now();
    const models = [...this.models.values()].sort((a, b) => (a.modelId < b.modelId ? -1 : 1));
    const batches = this.options.settler.settledBatches.slice(-10).reverse();
    return {
      runner: this.options.runner,
      chainId: this.options.chainId,
      block: this.block,
      historyFrom: this.historyFrom,
      chainError: this.chainError,
      startedAt: this.startedAt,
      now,
      asset: this.asset,
      fees: this.fees,
      pendingCalls: this.options.settler.pendingCalls,
      stages: this.stages,
      // This runner's settled usage (BatchSettled): from the scanned history, so `fromBlock` says
      // where the count starts when the history was cut short (null: since the deployment).
      settledUsage: {
        ...this.settledUsage,
        fromBlock:
          this.historyFrom !== null && this.historyFrom > BigInt(this.options.deployment.startBlock ?? 0)
            ? this.historyFrom
            : null,
      },
      totals: {
        calls: models.reduce((sum, m) => sum + m.calls, 0),
        callsPerSecond: models.reduce((sum, m) => sum + m.rate.perSecond(10, now), 0),
        revenue: models.reduce((sum, m) => sum + m.revenue, 0n),
      },
      models: models.map((m) => this.modelView(m, now)),
      batches: batches.map((b) => ({
        sequence: b.sequence,
        root: b.root,
        txHash: b.txHash,
        blockNumber: b.blockNumber,
        calls: b.totals.reduce((sum, t) => sum + t.calls, 0n),
        amount: b.totals.reduce((sum, t) => sum + t.amount, 0n),
        models: b.totals.map((t) => t.modelId),
        receiptCount: b.receipts.length,
        receipts: b.receipts.slice(0, 25).map((r) => ({ requestHash: r.requestHash, modelId: r.modelId })),
      })),
    };
  }

  private modelView(m: ModelState, now: number) {
    const holders = m.holders;
    const split = this.split(m, m.served.pricePerCall);
    return {
      modelId: m.modelId,
      adapterHash: m.served.adapterHash,
      status: m.chain?.status ?? m.served.status,
      pricePerCall: m.chain?.pricePerCall ?? m.served.pricePerCall,
      vaultShareBps: m.chain?.vaultShareBps ?? null,
      owner: m.chain?.owner ?? null,
      metadataURI: m.served.metadataURI,
      calls: m.calls,
      callsPerSecond: m.rate.perSecond(10, now),
      rate: m.rate.series(now),
      latencyMs: { last: m.latency.last, p50: m.latency.percentile(50), p95: m.latency.percentile(95) },
      revenue: m.revenue,
      onChain: m.chain ? { calls: m.chain.totalCalls, revenue: m.chain.totalRevenue } : null,
      distributed: m.distributed,
      perCall: split,
      streamed: {
        protocolFee: m.streamed.protocolFee,
        runnerFee: m.streamed.runnerFee,
        vault: m.streamed.vault,
      },
      holders: holders
        ? {
            totalUnits: holders.totalUnits,
            totalCredited: holders.totalCredited,
            totalClaimed: holders.totalClaimed,
          }
        : null,
      contributors: (holders?.holders ?? []).map((h) => ({
        account: h.account,
        units: h.units,
        shareBps: holders && holders.totalUnits > 0n ? Number((h.units * 10_000n) / holders.totalUnits) : 0,
        claimable: h.claimable,
        claimed: m.claimed.get(key(h.account)) ?? 0n,
        streamed: m.streamed.holders.get(key(h.account)) ?? 0n,
      })),
      vault: m.vault,
      unlock: m.vault ? unlockText(m.vault) : null,
    };
  }

  /** Base units as the payment asset's tokens, with its symbol: "0.854 tUSD". */
  private tokens(raw: bigint): string {
    const value = formatUnits(raw, this.asset.decimals);
    return this.asset.symbol ? `${value} ${this.asset.symbol}` : `${value} (base units)`;
  }

  // ------------------------------------------------------------------ chain polling

  private async poll(): Promise<void> {
    if (this.stopped) return;
    let delay = this.options.pollMs ?? 1_000;
    try {
      await this.sync();
      if (this.chainError) this.options.log.info("the chain answers again");
      this.chainError = null;
      this.failures = 0;
    } catch (error) {
      this.failures++;
      const message = (error as Error).message.split("\n")[0] ?? String(error);
      if (this.chainError === null) this.options.log.warn({ err: error }, "dashboard: chain poll failed");
      this.chainError = message;
      this.dirty = true;
      delay = Math.min(15_000, delay * 2 ** Math.min(this.failures, 4));
    }
    this.firstPollDone();
    this.schedulePush();
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => void this.poll(), delay);
    this.pollTimer.unref();
  }

  private async sync(): Promise<void> {
    const { publicClient } = this.options;
    const latest = await publicClient.getBlockNumber({ cacheTime: 0 });
    if (this.cursor === null) {
      await this.initialise(latest);
    } else if (latest > this.cursor) {
      const logs = await this.logs(this.cursor + 1n, latest);
      await this.handle(logs, false);
      this.cursor = latest;
    }
    // Vault share prices move with time while revenue unlocks: re-read them while someone looks.
    for (const m of this.models.values())
      if (m.vault && m.vault.lockedRevenue > 0n) this.shownStale.vaults.add(m.modelId);
    await this.refreshInTurn(this.listeners.size > 0);
    // The block whose logs are handled and what they mark (for a split) read.
    if (this.block !== latest) this.dirty = true;
    this.block = latest;
    const batches = this.options.settler.settled.batches;
    const pending = this.options.settler.pendingCalls;
    if (batches !== this.batchesSeen || pending !== this.pendingSeen) this.dirty = true;
    this.batchesSeen = batches;
    this.pendingSeen = pending;
    // Calls per second decay as time passes: keep pushing while there was recent traffic.
    for (const m of this.models.values()) if (m.rate.active()) this.dirty = true;
  }

  /** First poll (again, until it succeeds): the asset, the served models, the fees, the event history. */
  private async initialise(latest: bigint): Promise<void> {
    this.asset = await this.reader.asset();
    for (const served of await this.options.catalog.models()) this.modelState(served);
    for (const id of this.models.keys()) this.markStale(id);
    this.stale.fees = true;
    await this.refreshInTurn(true); // vault addresses first: their logs are scanned too
    const start = BigInt(this.options.deployment.startBlock ?? 0);
    const window = this.options.historyBlocks ?? 50_000n;
    const from = latest - start > window ? latest - window : start;
    const logs = await this.logs(from, latest);
    // What the history adds up is rebuilt from scratch, so a retried start never counts twice.
    this.stages.rewarded = { count: 0, amount: 0n, lastAt: null, detail: "" };
    this.settledUsage = { calls: 0n, lanes: 0n };
    for (const m of this.models.values()) {
      m.distributed = { calls: 0n, amount: 0n, fees: 0n, pending: 0n, vault: 0n, holders: 0n };
      m.claimed.clear();
    }
    await this.handle(logs, true);
    this.historyFrom = from;
    this.cursor = latest;
    this.dirty = true;
  }

  /** A model seen for the first time: everything about it is read. */
  private markStale(modelId: bigint): void {
    this.stale.models.add(modelId);
    this.stale.holders.add(modelId);
    this.shownStale.vaults.add(modelId);
  }

  private async logs(from: bigint, to: bigint) {
    const { publicClient, deployment } = this.options;
    const address = [
      deployment.modelRegistry,
      deployment.coTrainingShares,
      deployment.settlement,
      deployment.runnerRegistry,
      ...[...this.models.values()].flatMap((m) => (m.chain ? [m.chain.vault] : [])),
    ];
    const all: Log[] = [];
    const step = 5_000n;
    for (let start = from; start <= to; start += step) {
      const end = start + step - 1n < to ? start + step - 1n : to;
      all.push(...(await publicClient.getLogs({ address, fromBlock: start, toBlock: end })));
    }
    return parseEventLogs({ abi: EVENTS, logs: all });
  }

  /** Applies logs: stage events, the sums only events carry, and what to re-read. */
  private async handle(logs: Awaited<ReturnType<DashboardHub["logs"]>>, history: boolean): Promise<void> {
    const { stale, shownStale: shown } = this;
    const { deployment, runner } = this.options;
    const at = history ? null : Date.now();
    const from = (address: Address, contract: Address) => isAddressEqual(address, contract);
    for (const log of logs) {
      if (from(log.address, deployment.modelRegistry)) {
        if (log.eventName === "ModelRegistered") {
          const { modelId } = log.args;
          this.fire("registered", `model #${modelId} by ${short(log.args.owner)}`, 0n, at);
          shown.fees = true; // the model count
          if (!this.models.has(modelId)) {
            const served = await this.options.catalog.model(modelId).catch(() => null);
            if (served) {
              this.modelState(served);
              this.markStale(modelId);
            }
          }
        } else if (log.eventName === "UsageRecorded") {
          // A flush moved pending usage into the registry: the settled totals are unchanged.
        } else if ("modelId" in log.args && typeof log.args.modelId === "bigint") {
          stale.models.add(log.args.modelId); // terms, status or metadata changed
        }
      } else if (from(log.address, deployment.coTrainingShares)) {
        if (log.eventName === "RewardsClaimed") {
          const { modelId, account, amount } = log.args;
          this.fire(
            "rewarded",
            `${short(account)} claimed ${this.tokens(amount)} from model #${modelId}`,
            amount,
            at,
          );
          const m = this.models.get(modelId);
          if (m) m.claimed.set(key(account), (m.claimed.get(key(account)) ?? 0n) + amount);
        }
        if ("modelId" in log.args && typeof log.args.modelId === "bigint") {
          // Units split each call's price; what was credited and claimed is only shown.
          const rewards = log.eventName === "RewardsClaimed" || log.eventName === "RevenueCredited";
          (rewards ? shown : stale).holders.add(log.args.modelId);
        }
      } else if (from(log.address, deployment.settlement)) {
        if (log.eventName === "BatchSettled" && isAddressEqual(log.args.runner, runner)) {
          const { sequence, lanes, calls, amount } = log.args;
          this.settledUsage.calls += calls;
          this.settledUsage.lanes += lanes;
          this.fire(
            "settled",
            `batch #${sequence} · ${lanes} ${lanes === 1n ? "lane" : "lanes"} · ${calls} ${calls === 1n ? "call" : "calls"} · ${this.tokens(amount)}`,
            amount,
            at,
          );
        } else if (log.eventName === "RevenuePending") {
          const m = this.models.get(log.args.modelId);
          if (m) {
            const d = m.distributed;
            d.calls += log.args.calls;
            d.amount += log.args.amount;
            d.fees += log.args.amount - log.args.net;
            d.pending += log.args.net;
            // Settled usage (registry + pending) and the holders' claimable (pending counts) grew.
            shown.models.add(m.modelId);
            shown.holders.add(m.modelId);
          }
        } else if (log.eventName === "RevenueFlushed") {
          const m = this.models.get(log.args.modelId);
          if (m) {
            const d = m.distributed;
            d.pending -= log.args.vaultAmount + log.args.holdersAmount;
            d.vault += log.args.vaultAmount;
            d.holders += log.args.holdersAmount;
            shown.vaults.add(m.modelId);
            shown.models.add(m.modelId);
          }
        }
        // The protocol's rate splits each call; the counts and accrued fees are only shown.
        if (log.eventName === "ProtocolFeeSet") stale.fees = true;
        else shown.fees = true;
      } else if (from(log.address, deployment.runnerRegistry)) {
        if (
          "runner" in log.args &&
          typeof log.args.runner === "string" &&
          isAddressEqual(log.args.runner, runner)
        )
          stale.fees = true; // the runner's fee rate
      } else {
        const modelId = this.vaultModels.get(key(log.address));
        if (modelId !== undefined) shown.vaults.add(modelId);
      }
    }
    if (logs.length > 0) this.dirty = true;
  }

  /** Runs `refresh` after any refresh in progress; `shown` adds what only the page shows. */
  private refreshInTurn(shown: boolean): Promise<void> {
    const run = this.refreshing.then(() => {
      if (shown) moveInto(this.stale, this.shownStale);
      return this.refresh();
    });
    this.refreshing = run.catch(() => {});
    return run;
  }

  /** Re-reads what is stale; what fails to read stays stale for the next poll. */
  private async refresh(): Promise<void> {
    const stale = this.stale;
    const jobs: Promise<void>[] = [];
    for (const id of stale.models) {
      const m = this.models.get(id);
      if (!m) continue;
      jobs.push(
        this.reader.model(id).then((chain) => {
          m.chain = chain;
          this.vaultModels.set(key(chain.vault), id);
          stale.models.delete(id);
        }),
      );
    }
    for (const id of stale.holders) {
      const m = this.models.get(id);
      if (!m) continue;
      jobs.push(
        this.reader.holders(id).then((h) => {
          m.holders = h;
          stale.holders.delete(id);
        }),
      );
    }
    if (stale.fees) {
      stale.fees = false;
      jobs.push(
        this.reader.fees().then(
          (f) => {
            this.fees = f;
            // The views are the truth for these counts (the event history may be cut short).
            this.stages.registered.count = Number(f.modelCount);
            this.stages.settled.count = Number(f.batchCount);
            this.stages.settled.amount = f.settledAmount;
          },
          (error) => {
            stale.fees = true;
            throw error;
          },
        ),
      );
    }
    const results = await Promise.allSettled(jobs);
    const vaults: Promise<void>[] = [];
    for (const id of stale.vaults) {
      const m = this.models.get(id);
      if (!m?.chain) continue; // after its model is read
      const chain = m.chain;
      vaults.push(
        this.reader.vault(chain.vault).then((v) => {
          m.vault = v;
          stale.vaults.delete(id);
        }),
      );
    }
    results.push(...(await Promise.allSettled(vaults)));
    if (results.length > 0) this.dirty = true;
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  // ------------------------------------------------------------------ fan-out

  /**
   * A stage's event happened. The counts of "registered" and "settled" are read from views
   * (modelCount, batchCount, settledAmount) by the refresh that follows; the others are counted here.
   */
  private fire(stage: StageName, detail: string, amount: bigint, at: number | null): void {
    const s = this.stages[stage];
    if (stage === "attributed" || stage === "rewarded") {
      s.count++;
      s.amount += amount;
    }
    s.detail = detail;
    if (at !== null) s.lastAt = at;
    this.dirty = true;
  }

  private schedulePush(): void {
    if (this.pushTimer || this.listeners.size === 0) {
      if (this.listeners.size === 0) this.pendingCalls = [];
      return;
    }
    this.pushTimer = setTimeout(() => {
      this.pushTimer = null;
      this.push();
    }, this.options.pushMs ?? 200);
    this.pushTimer.unref();
  }

  private push(): void {
    const calls = this.pendingCalls;
    this.pendingCalls = [];
    if (calls.length === 0 && !this.dirty) return;
    this.dirty = false;
    const snapshot = toJson(this.snapshot());
    const paid = calls.length > 0 ? toJson(calls) : null;
    for (const listener of this.listeners) {
      if (paid) listener("calls", paid);
      listener("snapshot", snapshot);
    }
  }

  private modelState(served: ServedModel): ModelState {
    let m = this.models.get(served.modelId);
    if (!m) {
      m = {
        modelId: served.modelId,
        served,
        chain: null,
        holders: null,
        vault: null,
        calls: 0,
        revenue: 0n,
        rate: new RateWindow(60),
        latency: new LatencyWindow(),
        streamed: { protocolFee: 0n, runnerFee: 0n, vault: 0n, holders: new Map() },
        distributed: { calls: 0n, amount: 0n, fees: 0n, pending: 0n, vault: 0n, holders: 0n },
        claimed: new Map(),
      };
      this.models.set(served.modelId, m);
    }
    m.served = served;
    return m;
  }

  /** The proof of a receipt with the chain's verdict on it (the verify view). */
  async verify(proof: ReceiptProof): Promise<{ included: boolean; root: Hex }> {
    return this.reader.verifyReceipt(proof.sequence, proof.receipt, proof.proof);
  }
}

interface Stale {
  models: Set<bigint>;
  holders: Set<bigint>;
  vaults: Set<bigint>;
  fees: boolean;
}

function emptyStale(): Stale {
  return { models: new Set(), holders: new Set(), vaults: new Set(), fees: false };
}

function hasAny(stale: Stale): boolean {
  return stale.fees || stale.models.size > 0 || stale.holders.size > 0 || stale.vaults.size > 0;
}

/** Moves everything `from` marks into `to`. */
function moveInto(to: Stale, from: Stale): void {
  for (const name of ["models", "holders", "vaults"] as const) {
    for (const id of from[name]) to[name].add(id);
    from[name].clear();
  }
  to.fees ||= from.fees;
  from.fees = false;
}

/** When a vault's locked revenue will have unlocked, as a date counted from the chain's time. */
function unlockText(vault: VaultOnChain): string {
  if (vault.lockedRevenue === 0n) return "all unlocked";
  if (vault.totalSupply === 0n) return "waits for a deposit";
  return formatDate(vault.unlockEnd, vault.readAt);
}

/** `promise`, or nothing after `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  await Promise.race([promise, timeout]);
  clearTimeout(timer);
}

function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

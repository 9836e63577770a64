/**
 * Submits the runner's paid calls on-chain with `Settlement.settle` when its policy says so
 * (settlePolicy.ts: size, age, gas worth and closing channels' deadlines, at most once per
 * interval), and survives crashes, a dead RPC, reorgs and lanes the contract refuses:
 *  - each batch is planned from one snapshot of the journal's lanes and the lanes' on-chain state
 *    (batchPlan.ts), so whatever the chain has already paid is never submitted again;
 *  - a batch that would revert on a lane (a voucher the contract refuses, a closed channel) sets
 *    that lane aside, journaled, with a metric and a warning, and settles the others; a revert
 *    that names no lane is bisected to the lanes that cause it;
 *  - the signed transaction and its hash are journaled before it is sent; on start, a signed
 *    transaction without a recorded outcome is looked up, and sent again if it is still valid;
 *  - a batch counts once it has `confirmations` blocks on top and is still in the canonical
 *    chain; a reverted "stale voucher" means someone already settled: re-plan, not an error;
 *  - RPC failures back off exponentially and retry; serving never waits for any of this.
 */

import type { Logger } from "pino";
import {
  type Account,
  type Address,
  type ContractFunctionArgs,
  encodeFunctionData,
  type Hex,
  keccak256,
  type PublicClient,
  parseEventLogs,
  type WalletClient,
} from "viem";
import { paymentChannelsAbi, settlementAbi } from "../../../sdk/generated/abis";
import type { Receipt } from "../../../sdk/protocol/typedData";
import { receiptLeafNative } from "../../payments/nativeHashes";
import type { Journal, JournalRecord } from "../journal";
import type { RunnerMetrics } from "../metrics";
import {
  addToLanes,
  type BatchPlan,
  buildReceiptTree,
  type CallRecord,
  type LaneIndex,
  type LaneKey,
  type LanePaid,
  type LaneRange,
  laneId,
  leafOf,
  planBatch,
  snapshotLanes,
} from "./batchPlan";
import { ChannelCloses } from "./channelCloses";
import { compactOnWorker } from "./journalCompaction";
import type { ReceiptTree } from "./receiptTree";
import { type FlushedRevenue, RevenueFlusher } from "./revenueFlush";
import {
  decideSettlement,
  SETTLE_POLICY_DEFAULTS,
  type SettleDecision,
  type SettlePolicyOptions,
  type UnsettledLane,
} from "./settlePolicy";
import {
  failingAlone,
  isStaleVoucher,
  lanesBlamed,
  type SettleRevert,
  settleAbi,
  settleRevertOf,
} from "./settleRevert";

type SettleBatch = ContractFunctionArgs<typeof settleAbi, "nonpayable", "settle">[0];
type SignedVoucher = BatchPlan["vouchers"][number];

export interface SettlerOptions {
  publicClient: PublicClient;
  walletClient: WalletClient;
  account: Account;
  settlement: Address;
  paymentChannels: Address;
  journal: Journal;
  log: Logger;
  metrics?: RunnerMetrics;
  /** Settlements are at least this far apart while calls keep coming (settlePolicy.ts). */
  intervalMs: number;
  /** A settlement is due once this many calls are unsettled. */
  maxCalls: number;
  /** The rest of the policy (settlePolicy.ts); unset, its defaults; maxAgeMs: 6 × intervalMs. */
  maxAgeMs?: number;
  maxValue?: bigint;
  closeMarginMs?: number;
  laneGas?: bigint | number;
  gasWorthMultiple?: number;
  nativeTokenPrice?: bigint;
  /** How often the policy is looked at (and close requests looked for); default 5 s or intervalMs. */
  pollMs?: number;
  /** The policy's clock (ms); a benchmark replays a stream on a virtual one. Default Date.now. */
  clock?: () => number;
  maxLanes: number;
  confirmations: number;
  /**
   * Receipts of the latest settled batches whose proofs are served (whole batches, at least the
   * last): kept in memory, and in the journal.
   */
  proofReceipts: number;
  /** The journal is compacted each time it has grown by this many bytes. */
  compactJournalBytes: number;
  /**
   * The settled models' pending revenue is flushed (revenueFlush.ts) after a settlement once this
   * long has passed since the last flush; 0: after every settlement; unset: 6 × intervalMs.
   */
  flushEveryMs?: number;
}

export interface SettledBatch {
  sequence: bigint;
  root: Hex;
  txHash: Hex;
  blockNumber: bigint;
  receipts: Receipt[];
  totals: BatchPlan["totals"];
}

/**
 * A lane whose voucher settlement refused, set aside through `throughCall`: its calls are not
 * tried again until a newer voucher of the lane comes (a top-up, a proper signature), and they
 * count as unsettled meanwhile.
 */
export interface QuarantinedLane extends LaneKey {
  throughCall: bigint;
  /** The decoded revert, e.g. `PaymentChannels_InvalidSignature(channelId=3, modelId=1, signer=0x…)`. */
  error: string;
}

/** What a batch paid for, as its plan or its transaction's events give it. */
type BatchContents = Pick<BatchPlan, "receipts" | "ranges" | "totals">;

/** Lanes whose paid state is read from the chain at once: each read costs the event loop time. */
const LANE_READS_AT_ONCE = 8;
/** Receipts indexed for proofs per turn of the event loop after a batch is confirmed. */
const PROOFS_INDEXED_PER_TURN = 1024;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface ReceiptProof {
  runner: Address;
  sequence: bigint;
  root: Hex;
  leaf: Hex;
  proof: Hex[];
  receipt: Receipt;
}

export class Settler {
  /** Journaled calls not yet known to be settled, by lane. */
  private readonly lanes: LaneIndex = new Map();
  /**
   * What the chain has paid in each lane, as read from it, or as this runner's own confirmed
   * settlement left it: only the lane's runner settles its vouchers, so the chain cannot have
   * moved on without us. A failed or refused settlement forgets it all, and the next plan reads
   * the chain again.
   */
  private readonly paid = new Map<string, LanePaid>();
  /** The latest settled batches (see proofReceipts), oldest first. */
  private readonly batches: SettledBatch[] = [];
  private batchedReceipts = 0;
  private readonly proofIndex = new Map<Hex, { batch: SettledBatch; index: number }>();
  /**
   * Each batch's Merkle tree: its plan's, or (for batches recovered from the journal) built on
   * its first proof, in slices, one build for all the proofs asked for meanwhile.
   */
  private readonly trees = new WeakMap<SettledBatch, ReceiptTree | Promise<ReceiptTree>>();
  private unsettledCalls = 0;
  private settleQueued = false;
  /** Set when a settlement reverted on-chain: the next one's gas limit is the node's estimate. */
  private estimateNext = false;
  /** While the journal is read back, calls pile up without starting a settlement. */
  private recovering = false;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SettledBatch | null> | null = null;
  private failures = 0;
  private stopped = false;
  /** The journal's size after its last compaction. */
  private compactedSize = 0;
  private compacting: Promise<void> | null = null;
  private compactAgain = false;
  private readonly settledSoFar = { batches: 0, receipts: 0 };
  /** Lanes set aside because settlement refused their voucher, by lane id. */
  private readonly quarantine = new Map<string, QuarantinedLane>();
  /** When each call arrived, on the policy's clock (the journal's `at` for calls read back). */
  private readonly arrivals = new WeakMap<CallRecord, number>();
  private readonly closes: ChannelCloses;
  private readonly policy: SettlePolicyOptions;
  private readonly clock: () => number;
  /**
   * When the policy last settled for size or age: the interval counts from there, and from the
   * start, so that a runner's first settlement also waits for company.
   */
  private lastSettledAt: number;
  private sizeCheckedAt = Number.NEGATIVE_INFINITY;
  private readonly flusher: RevenueFlusher;

  constructor(private readonly options: SettlerOptions) {
    this.clock = options.clock ?? Date.now;
    this.lastSettledAt = this.clock();
    this.closes = new ChannelCloses(options.publicClient, options.paymentChannels);
    const defined = <T>(value: T | undefined, fallback: T) => (value === undefined ? fallback : value);
    this.policy = {
      minIntervalMs: options.intervalMs,
      maxAgeMs: defined(options.maxAgeMs, 6 * options.intervalMs),
      maxCalls: options.maxCalls,
      maxValue: options.maxValue,
      closeMarginMs: defined(options.closeMarginMs, SETTLE_POLICY_DEFAULTS.closeMarginMs),
      laneGas: BigInt(defined(options.laneGas, SETTLE_POLICY_DEFAULTS.laneGas)),
      gasWorthMultiple: defined(options.gasWorthMultiple, SETTLE_POLICY_DEFAULTS.gasWorthMultiple),
      nativeTokenPrice: options.nativeTokenPrice,
    };
    this.flusher = new RevenueFlusher({
      ...options,
      everyMs: defined(options.flushEveryMs, 6 * options.intervalMs),
      clock: this.clock,
    });
  }

  get address(): Address {
    return this.options.account.address;
  }

  get pendingCalls(): number {
    return this.unsettledCalls;
  }

  /** The latest settled batches (see proofReceipts), oldest first. */
  get settledBatches(): readonly SettledBatch[] {
    return this.batches;
  }

  /** Lanes set aside because settlement refused their latest voucher (see QuarantinedLane). */
  get quarantinedLanes(): readonly QuarantinedLane[] {
    return [...this.quarantine.values()];
  }

  /**
   * Whether settlement refused this lane's vouchers through `calls` (a voucher of that many
   * calls or fewer): what a payment gate would ask before serving the lane on.
   */
  isQuarantined(lane: LaneKey, calls?: bigint): boolean {
    const held = this.quarantine.get(laneId(lane));
    return held !== undefined && (calls === undefined || calls <= held.throughCall);
  }

  /** Batches and receipts settled since start (confirmed by this runner, or read back from its journal). */
  get settled(): { readonly batches: number; readonly receipts: number } {
    return this.settledSoFar;
  }

  /** Rebuilds state from the journal's records and finishes any submission a crash interrupted. */
  async recover(records: readonly JournalRecord[]): Promise<void> {
    this.recovering = true;
    try {
      await this.replay(records);
    } finally {
      this.recovering = false;
    }
    this.settleIfDue();
  }

  private async replay(records: readonly JournalRecord[]): Promise<void> {
    const signed: JournalRecord[] = [];
    const done = new Set<string>();
    // Journals written before batch records named lanes' call ranges name receipts by request hash.
    const byRequestHash = records.some((r) => r.type === "batch" && "requestHashes" in r)
      ? new Map<string, Receipt>()
      : null;
    for (const record of records) {
      if (record.type === "call") {
        const call = record as unknown as CallRecord;
        byRequestHash?.set(call.receipt.requestHash.toLowerCase(), call.receipt);
        this.addCall(call, typeof record.at === "number" ? record.at : undefined);
      } else if (record.type === "quarantine") {
        const { channelId, modelId, throughCall, error } = record as unknown as QuarantinedLane;
        this.setAside({ channelId, modelId, throughCall, error });
      } else if (record.type === "settle-signed") signed.push(record);
      else if (record.type === "batch") {
        done.add(record.txHash as string);
        // A batch's receipts are calls journaled before it and not settled by an earlier one.
        const batch = this.settledBatchOf(record, byRequestHash);
        await this.indexBatch(batch);
        this.forgetSettled(batch.receipts, record.ranges as LaneRange[] | undefined);
      }
    }
    for (const record of signed) {
      if (done.has(record.txHash as string)) continue;
      await this.reconcile(record.raw as Hex, record.txHash as Hex).catch((error) =>
        this.options.log.warn(
          { err: error, txHash: record.txHash },
          "could not reconcile a signed settlement yet",
        ),
      );
    }
  }

  /** Tells the settler of a call that was answered (and journaled), and when (default: now). */
  addCall(call: CallRecord, arrivedAt = this.clock()): void {
    leafOf(call); // hashed now (if the signature thread has not), not all at settlement
    this.arrivals.set(call, arrivedAt);
    addToLanes(this.lanes, call);
    this.unsettledCalls++;
    this.settleIfDue();
  }

  /**
   * Looks at the policy once enough calls wait and the interval has passed, at most once per
   * poll; not in the caller's turn: an answer may be waiting.
   */
  private settleIfDue(): void {
    if (this.recovering || this.settleQueued || this.unsettledCalls < this.options.maxCalls) return;
    const now = this.clock();
    if (now < this.lastSettledAt + this.policy.minIntervalMs || now < this.sizeCheckedAt + this.pollMs)
      return;
    this.sizeCheckedAt = now;
    this.settleQueued = true;
    setImmediate(() => {
      this.settleQueued = false;
      void this.tick().catch((error) =>
        this.options.log.warn({ err: error }, "settlement failed; the schedule tries again"),
      );
    });
  }

  private get pollMs(): number {
    return this.options.pollMs ?? Math.min(5_000, this.options.intervalMs);
  }

  start(): void {
    this.stopped = false;
    this.schedule(this.pollMs);
  }

  /**
   * Settles what the policy says is due now, batch after batch; resolves to the batches (none
   * when nothing is due). The schedule calls it every poll; a benchmark on a virtual clock, at will.
   */
  async tick(): Promise<SettledBatch[]> {
    const decision = await this.decide();
    if (!decision.reason) return [];
    if (decision.reason !== "deadline") this.lastSettledAt = this.clock();
    this.options.metrics?.settlements.inc({ reason: decision.reason });
    this.options.log.info({ reason: decision.reason, lanes: decision.lanes.length }, "settlement due");
    const only = new Set(decision.lanes.map(laneId));
    const settled: SettledBatch[] = [];
    for (let batch = await this.settleNow(only); batch; batch = await this.settleNow(only))
      settled.push(batch);
    return settled;
  }

  /** The lanes with unsettled calls as the policy sees them, but those set aside: the runner's exposure. */
  unsettled(): UnsettledLane[] {
    return this.unsettledLanes(this.clock());
  }

  /** The policy's decision on the lanes as they are now (settlePolicy.ts). */
  private async decide(): Promise<SettleDecision> {
    const now = this.clock();
    const lanes = this.unsettledLanes(now);
    if (lanes.length === 0) return { reason: null, lanes: [] };
    await this.closes.refresh(lanes.map((lane) => lane.channelId));
    for (const lane of lanes) {
      const deadline = this.closes.deadline(lane.channelId);
      if (deadline !== undefined) lane.closesAt = Number(deadline) * 1000;
    }
    const gasPrice =
      this.policy.nativeTokenPrice === undefined ? 0n : await this.options.publicClient.getGasPrice();
    return decideSettlement(now, this.lastSettledAt, lanes, gasPrice, this.policy);
  }

  /**
   * The lanes with calls not known to be settled, but those set aside, as the policy sees them.
   * A lane's value is exact where its paid state is known, else estimated from its oldest
   * call's voucher at the lane's average price.
   */
  private unsettledLanes(now: number): UnsettledLane[] {
    const lanes: UnsettledLane[] = [];
    for (const lane of this.lanes.values()) {
      const { first, latest } = lane;
      if (!first || !latest || this.held(latest)) continue;
      const { voucher } = latest;
      const paid = this.paid.get(laneId(voucher));
      if (paid && paid.paidCalls >= voucher.cumulativeCalls) continue;
      const before =
        first.voucher.cumulativeAmount - first.voucher.cumulativeAmount / first.voucher.cumulativeCalls;
      lanes.push({
        channelId: voucher.channelId,
        modelId: voucher.modelId,
        calls: paid ? Number(voucher.cumulativeCalls - paid.paidCalls) : lane.size,
        value: voucher.cumulativeAmount - (paid ? paid.paidAmount : before),
        oldestAt: this.arrivals.get(first) ?? now,
      });
    }
    return lanes;
  }

  /** Stops the schedule; with `flush`, settles what is pending first (graceful shutdown). */
  async stop(flush = false): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => null);
    if (flush) await this.settleAll();
  }

  /** Settles batch after batch until nothing is unpaid. */
  async settleAll(): Promise<SettledBatch[]> {
    const settled: SettledBatch[] = [];
    for (let batch = await this.settleNow(); batch; batch = await this.settleNow()) settled.push(batch);
    return settled;
  }

  /** Plans and submits one batch (of the lanes `only`, if given); resolves to null when nothing is unpaid. */
  settleNow(only?: ReadonlySet<string>): Promise<SettledBatch | null> {
    this.running ??= this.settleOnce(only).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async proof(requestHash: Hex): Promise<ReceiptProof | null> {
    const found = this.proofIndex.get(requestHash.toLowerCase() as Hex);
    if (!found) return null;
    const { batch, index } = found;
    let building = this.trees.get(batch);
    if (!building) {
      building = buildReceiptTree(batch.receipts);
      this.trees.set(batch, building);
      building.catch(() => this.trees.delete(batch)); // a failed build is tried again next time
    }
    const tree = await building;
    const receipt = batch.receipts[index] as Receipt;
    return {
      runner: this.address,
      sequence: batch.sequence,
      root: batch.root,
      leaf: receiptLeafNative(receipt),
      proof: tree.proof(index),
      receipt,
    };
  }

  private schedule(delayMs: number) {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      try {
        await this.tick();
        this.failures = 0;
        this.schedule(this.pollMs);
      } catch (error) {
        this.failures++;
        const backoff = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6));
        this.options.log.warn({ err: error, retryInMs: backoff }, "settlement failed; retrying");
        this.schedule(backoff);
      }
    }, delayMs);
    this.timer.unref();
  }

  /** Reads the lanes' paid state, a few lanes at a time, so that serving goes on between. */
  private async lanePaid(lanes: LaneKey[]): Promise<void> {
    for (let from = 0; from < lanes.length; from += LANE_READS_AT_ONCE) {
      await Promise.all(
        lanes.slice(from, from + LANE_READS_AT_ONCE).map(async (lane) => {
          const state = await this.options.publicClient.readContract({
            address: this.options.paymentChannels,
            abi: paymentChannelsAbi,
            functionName: "getLane",
            args: [lane.channelId, lane.modelId],
          });
          this.paid.set(laneId(lane), { paidAmount: state.paidAmount, paidCalls: BigInt(state.paidCalls) });
        }),
      );
    }
  }

  /** Whether a lane's latest call is set aside (see QuarantinedLane). */
  private held(latest: CallRecord): boolean {
    return this.isQuarantined(latest.voucher, latest.voucher.cumulativeCalls);
  }

  /**
   * The next batch, of the lanes `only` if given. The lanes are read once, before the chain is:
   * a call that arrives meanwhile (a lane new to this plan, or whose paid state is not known) is
   * left for the next plan, never planned on a paid state nobody read.
   */
  private async plan(only?: ReadonlySet<string>): Promise<BatchPlan | null> {
    const known = (lane: LaneKey) => this.paid.get(laneId(lane)) ?? { paidAmount: 0n, paidCalls: 0n };
    const snapshot = snapshotLanes(this.lanes.values()).filter(
      ({ latest }) =>
        (!only || only.has(laneId(latest.voucher))) &&
        !this.held(latest) &&
        latest.voucher.cumulativeCalls > known(latest.voucher).paidCalls,
    );
    if (snapshot.length === 0) return null;
    // The chain decides what is still unpaid.
    await this.lanePaid(
      snapshot.map(({ latest }) => latest.voucher).filter((voucher) => !this.paid.has(laneId(voucher))),
    );
    return planBatch(snapshot, known, this.options.maxLanes);
  }

  private async settleOnce(only?: ReadonlySet<string>): Promise<SettledBatch | null> {
    const replanned = new Set<string>();
    for (;;) {
      const plan = await this.plan(only);
      if (!plan) {
        if (!only) this.unsettledCalls = this.heldCalls();
        return null;
      }
      const batch = this.batchOf(plan.root, plan.vouchers);
      const data = encodeFunctionData({ abi: settleAbi, functionName: "settle", args: [batch] });
      let gas: bigint | undefined;
      try {
        gas = await this.gasLimitOrRevert(batch, data);
      } catch (error) {
        if (await this.setAsideRefused(error, plan, replanned)) continue;
        this.paid.clear();
        throw error;
      }
      const settled = await this.submit(plan, data, gas);
      if (settled) {
        await this.flushRevenue(settled);
        return settled;
      }
    }
  }

  /** A failed flush loses nothing: the revenue stays pending and the models stay due. */
  private async flushRevenue(settled: SettledBatch): Promise<void> {
    this.flusher.noteSettled(settled.totals.map((t) => t.modelId));
    try {
      await this.flusher.flushIfDue();
    } catch (error) {
      this.options.log.warn({ err: error }, "flushing pending revenue failed; it is tried again later");
    }
  }

  /** Flushes every model this runner settled for and has not flushed yet. */
  flushPendingRevenue(): Promise<FlushedRevenue | null> {
    return this.flusher.flush();
  }

  /** Calls in lanes set aside: unsettled, and not planned. */
  private heldCalls(): number {
    let calls = 0;
    for (const lane of this.lanes.values()) if (lane.latest && this.held(lane.latest)) calls += lane.size;
    return calls;
  }

  /** The settle call's argument for these vouchers, their totals from the lanes' paid state. */
  private batchOf(receiptsRoot: Hex, vouchers: readonly SignedVoucher[]): SettleBatch {
    const totals = new Map<bigint, { modelId: bigint; calls: bigint; amount: bigint }>();
    for (const voucher of vouchers) {
      const paid = this.paid.get(laneId(voucher)) ?? { paidAmount: 0n, paidCalls: 0n };
      const total = totals.get(voucher.modelId) ?? { modelId: voucher.modelId, calls: 0n, amount: 0n };
      total.calls += voucher.cumulativeCalls - paid.paidCalls;
      total.amount += voucher.cumulativeAmount - paid.paidAmount;
      totals.set(voucher.modelId, total);
    }
    return {
      receiptsRoot,
      totals: [...totals.values()],
      vouchers: vouchers.map(({ signature, ...voucher }) => ({ ...voucher, signature })),
    };
  }

  /**
   * After a batch's execution reverted: whether to plan again, with the lanes it blames set
   * aside. A stale voucher is first re-planned from the chain (someone settled the lane); a
   * revert that names lanes (by channel, model or both) blames those; one that names none is
   * bisected to the lanes that fail alone. Nothing is set aside when every lane fails alone (the
   * runner not staked, the contracts paused): that is no lane's doing.
   */
  private async setAsideRefused(error: unknown, plan: BatchPlan, replanned: Set<string>): Promise<boolean> {
    const revert = settleRevertOf(error);
    if (!revert) return false;
    if (isStaleVoucher(revert)) {
      const [lane] = lanesBlamed(revert, plan.vouchers);
      const id = lane ? laneId(lane) : "";
      if (!replanned.has(id)) {
        replanned.add(id);
        this.paid.clear();
        this.options.log.info("a lane was already settled; re-planning from the chain");
        return true;
      }
    }
    let blamed = lanesBlamed(revert, plan.vouchers);
    if (blamed.length === 0) {
      blamed = await failingAlone(plan.vouchers, (vouchers) => this.executes(plan.root, vouchers));
      if (blamed.length === plan.vouchers.length) blamed = [];
    }
    this.paid.clear();
    if (blamed.length === 0) return false;
    for (const voucher of blamed) await this.quarantineLane(voucher, revert);
    return true;
  }

  /** Whether settling these vouchers would execute; throws on anything but a revert (a dead RPC). */
  private async executes(root: Hex, vouchers: readonly SignedVoucher[]): Promise<boolean> {
    const { publicClient, account, settlement } = this.options;
    try {
      await publicClient.simulateContract({
        address: settlement,
        abi: settleAbi,
        functionName: "settle",
        args: [this.batchOf(root, vouchers)],
        account,
      });
      return true;
    } catch (error) {
      if (settleRevertOf(error)) return false;
      throw error;
    }
  }

  /** Sets a lane aside through this voucher: journaled, counted and logged. */
  private async quarantineLane(voucher: SignedVoucher, revert: SettleRevert): Promise<void> {
    const held: QuarantinedLane = {
      channelId: voucher.channelId,
      modelId: voucher.modelId,
      throughCall: voucher.cumulativeCalls,
      error: revert.text,
    };
    await this.options.journal.append({ type: "quarantine", ...held });
    this.setAside(held);
    this.options.metrics?.lanesQuarantined.inc({ error: revert.name ?? "unknown" });
    this.options.log.warn(
      { channelId: held.channelId, modelId: held.modelId, throughCall: held.throughCall, error: held.error },
      "settlement refuses this lane; it is set aside and the other lanes settle",
    );
  }

  private setAside(held: QuarantinedLane): void {
    this.quarantine.set(laneId(held), held);
    this.options.metrics?.quarantinedLanes.set(this.quarantine.size);
  }

  /** Signs, journals, sends and confirms a planned batch; null when it must be planned again. */
  private async submit(plan: BatchPlan, data: Hex, gas: bigint | undefined): Promise<SettledBatch | null> {
    const { publicClient, walletClient, account, settlement, journal } = this.options;
    try {
      const prepared = await walletClient.prepareTransactionRequest({
        account,
        to: settlement,
        data,
        gas,
        chain: walletClient.chain,
      });
      const raw = await walletClient.signTransaction(
        prepared as Parameters<WalletClient["signTransaction"]>[0],
      );
      const txHash = keccak256(raw);
      await journal.append({ type: "settle-signed", root: plan.root, txHash, raw, nonce: prepared.nonce });
      await publicClient.sendRawTransaction({ serializedTransaction: raw });
      const settled = await this.confirm(txHash, plan, plan.tree);
      for (const voucher of plan.vouchers)
        this.paid.set(laneId(voucher), {
          paidAmount: voucher.cumulativeAmount,
          paidCalls: voucher.cumulativeCalls,
        });
      return settled;
    } catch (error) {
      this.paid.clear();
      if (isStaleVoucher(settleRevertOf(error))) {
        this.options.log.info("a lane was already settled; re-planning from the chain");
        return null;
      }
      throw error;
    }
  }

  /**
   * The settlement's gas limit: the gas one execution used (eth_createAccessList) and a quarter
   * more for the 63/64 rule of nested calls and refunds; undefined, for the node's own estimate,
   * after a settlement reverted, or where the node lacks the method or the execution failed.
   * eth_estimateGas searches for the limit by executing the batch over and over: on the
   * benchmark's anvil, which shares the runner's cores, it took 60 to 85 ms for a batch of 5,000
   * calls against 8 ms for one execution, and paid calls were slower meanwhile.
   *
   * That execution also tells whether the batch would revert. Only then, or where it cannot be
   * run, is the batch simulated as a contract call, whose error is decoded (an already settled
   * voucher is re-planned, see settleOnce): one execution of the batch in the usual case, not two.
   */
  private async gasLimitOrRevert(batch: SettleBatch, data: Hex): Promise<bigint | undefined> {
    const { publicClient, account, settlement } = this.options;
    if (!this.estimateNext) {
      try {
        const { gasUsed } = await publicClient.createAccessList({ account, to: settlement, data });
        return gasUsed + gasUsed / 4n;
      } catch (error) {
        // A revert, a node without the method, or a failed request: the simulation tells which.
        this.options.log.debug({ err: error }, "eth_createAccessList failed; simulating the batch");
      }
    }
    await publicClient.simulateContract({
      address: settlement,
      abi: settleAbi,
      functionName: "settle",
      args: [batch],
      account,
    });
    return undefined;
  }

  /** Waits for confirmations, checks the batch is still canonical, and records it. */
  private async confirm(
    txHash: Hex,
    { receipts, ranges, totals }: BatchContents,
    /** The batch's tree, when the plan built it: kept for proofs rather than hashed again. */
    tree?: ReceiptTree,
  ): Promise<SettledBatch> {
    const { publicClient, confirmations, journal } = this.options;
    const mined = await publicClient.waitForTransactionReceipt({
      hash: txHash,
      confirmations: confirmations + 1,
    });
    const again = await publicClient.getTransactionReceipt({ hash: txHash });
    if (again.blockHash !== mined.blockHash)
      throw new Error(`settlement ${txHash} was reorganised; re-planning`);
    if (mined.status !== "success") {
      this.estimateNext = true; // out of gas, perhaps: the next try lets the node estimate
      throw new Error(`settlement ${txHash} reverted`);
    }
    this.estimateNext = false;
    const [event] = parseEventLogs({ abi: settlementAbi, eventName: "BatchSettled", logs: mined.logs });
    if (!event) throw new Error(`settlement ${txHash} emitted no BatchSettled event`);
    const batch: SettledBatch = {
      sequence: event.args.sequence,
      root: event.args.receiptsRoot,
      txHash,
      blockNumber: mined.blockNumber,
      receipts,
      totals,
    };
    // The receipts themselves are in the journal's call records: name them by lane and call.
    const { receipts: _, ...summary } = batch;
    await journal.append({ type: "batch", ...summary, ranges });
    if (tree) this.trees.set(batch, tree);
    this.forgetSettled(receipts, ranges);
    await this.indexBatch(batch);
    for (const total of totals) {
      this.options.metrics?.settled.inc({ model: total.modelId.toString() }, Number(total.amount));
      this.options.metrics?.settledCalls.inc({ model: total.modelId.toString() }, Number(total.calls));
    }
    if (!this.recovering) this.compactIfDue();
    return batch;
  }

  /**
   * Rewrites the journal without what is settled and past keeping (journalCompaction.ts) once
   * it has grown enough, on a thread of its own; serving goes on meanwhile. One due while
   * another runs follows it. A failure (a full disk) leaves the journal whole, as it was.
   */
  private compactIfDue(): void {
    const { journal, compactJournalBytes } = this.options;
    if (journal.size < this.compactedSize + compactJournalBytes) return;
    if (this.compacting) this.compactAgain = true;
    else this.startCompaction();
  }

  private startCompaction(): void {
    this.compacting = this.compact().finally(() => {
      this.compacting = null;
      // What was due meanwhile is in the new journal's tail, uncompacted: go again.
      if (this.compactAgain) {
        this.compactAgain = false;
        this.startCompaction();
      }
    });
  }

  private async compact(): Promise<void> {
    const { journal, proofReceipts, log } = this.options;
    const before = journal.size;
    try {
      if (!(await journal.rewrite((prefix) => compactOnWorker(prefix, proofReceipts)))) return;
      this.compactedSize = journal.size;
      this.options.metrics?.journalCompactions.inc({ result: "done" });
      this.options.metrics?.journalBytes.set(journal.size);
      log.info({ before, after: journal.size }, "compacted the journal");
    } catch (error) {
      this.options.metrics?.journalCompactions.inc({ result: "failed" });
      log.warn({ err: error, bytes: before }, "could not compact the journal; it stays as it was");
    }
  }

  /** A signed settlement found in the journal without an outcome: finish it or let it go. */
  private async reconcile(raw: Hex, txHash: Hex): Promise<void> {
    const { publicClient, log } = this.options;
    const existing = await publicClient.getTransactionReceipt({ hash: txHash }).catch(() => null);
    if (!existing) {
      try {
        await publicClient.sendRawTransaction({ serializedTransaction: raw });
        log.info({ txHash }, "re-sent a settlement signed before a crash");
      } catch (error) {
        // Nonce already used or voucher already paid: the chain state decides the next batch.
        log.info(
          { txHash, reason: (error as Error).message.split("\n")[0] },
          "dropped a stale signed settlement",
        );
        return;
      }
    }
    const receipts = await this.receiptsOf(txHash).catch(() => null);
    if (receipts) await this.confirm(txHash, receipts).catch(() => {});
  }

  /** The receipts a mined settlement paid for, rebuilt from its vouchers and the journal. */
  private async receiptsOf(txHash: Hex): Promise<BatchContents> {
    const mined = await this.options.publicClient.waitForTransactionReceipt({
      hash: txHash,
      timeout: 30_000,
    });
    const events = parseEventLogs({
      abi: paymentChannelsAbi,
      eventName: "VoucherRedeemed",
      logs: mined.logs,
    });
    const ranges: LaneRange[] = events.map(({ args }) => ({
      channelId: args.channelId,
      modelId: args.modelId,
      fromCall: BigInt(args.cumulativeCalls) - args.calls + 1n,
      toCall: BigInt(args.cumulativeCalls),
    }));
    const totals = new Map<bigint, { modelId: bigint; calls: bigint; amount: bigint }>();
    for (const { args } of events) {
      const total = totals.get(args.modelId) ?? { modelId: args.modelId, calls: 0n, amount: 0n };
      total.calls += args.calls;
      total.amount += args.amount;
      totals.set(args.modelId, total);
    }
    return { receipts: this.receiptsIn(ranges), ranges, totals: [...totals.values()] };
  }

  /** The journaled, unsettled calls' receipts in `ranges`, in order. */
  private receiptsIn(ranges: readonly LaneRange[]): Receipt[] {
    return ranges.flatMap((range) =>
      (this.lanes.get(laneId(range))?.between(range.fromCall - 1n, range.toCall) ?? []).map(
        (call) => call.receipt,
      ),
    );
  }

  /**
   * Drops the calls a batch paid for, and any earlier ones of their lanes: they are settled.
   * Batches journaled before ranges were recorded give only their receipts.
   */
  private forgetSettled(receipts: readonly Receipt[], ranges?: readonly LaneRange[]): void {
    const paidThrough = new Map<string, bigint>();
    if (ranges) for (const range of ranges) paidThrough.set(laneId(range), range.toCall);
    else
      for (const r of receipts) {
        const lane = laneId(r);
        if (r.callIndex > (paidThrough.get(lane) ?? 0n)) paidThrough.set(lane, r.callIndex);
      }
    for (const [id, through] of paidThrough) {
      const held = this.quarantine.get(id);
      if (held && through >= held.throughCall) {
        this.quarantine.delete(id); // a newer voucher settled: the lane is whole again
        this.options.metrics?.quarantinedLanes.set(this.quarantine.size);
      }
      const lane = this.lanes.get(id);
      if (!lane) continue;
      this.unsettledCalls = Math.max(0, this.unsettledCalls - lane.dropThrough(through));
      if (lane.size === 0) this.lanes.delete(id);
    }
  }

  /**
   * Makes a batch's receipts' proofs findable, a slice per turn of the event loop, and forgets
   * those of the oldest batches past `proofReceipts` (as journal compaction does: keptBatches).
   */
  private async indexBatch(batch: SettledBatch): Promise<void> {
    this.settledSoFar.batches += 1;
    this.settledSoFar.receipts += batch.receipts.length;
    this.batches.push(batch);
    this.batchedReceipts += batch.receipts.length;
    while (this.batches.length > 1 && this.batchedReceipts > this.options.proofReceipts) {
      const old = this.batches.shift() as SettledBatch;
      this.batchedReceipts -= old.receipts.length;
      for (const receipt of old.receipts) {
        const key = receipt.requestHash.toLowerCase() as Hex;
        if (this.proofIndex.get(key)?.batch === old) this.proofIndex.delete(key);
      }
    }
    for (let from = 0; from < batch.receipts.length; from += PROOFS_INDEXED_PER_TURN) {
      if (from > 0) await nextTurn();
      const end = Math.min(batch.receipts.length, from + PROOFS_INDEXED_PER_TURN);
      for (let index = from; index < end; index++) {
        const receipt = batch.receipts[index] as Receipt;
        this.proofIndex.set(receipt.requestHash.toLowerCase() as Hex, { batch, index });
      }
    }
  }

  /**
   * A settled batch from its journal record. Records name their receipts by lane and call
   * (`ranges`); older ones by request hash, or carry the receipts whole.
   */
  private settledBatchOf(
    record: JournalRecord,
    byRequestHash: ReadonlyMap<string, Receipt> | null,
  ): SettledBatch {
    const batch = record as unknown as SettledBatch & { ranges?: LaneRange[]; requestHashes?: Hex[] };
    const { ranges, requestHashes, ...settled } = batch;
    if (ranges) return { ...settled, receipts: this.receiptsIn(ranges) };
    if (!requestHashes) return settled;
    const receipts = requestHashes.map((hash) => {
      const receipt = byRequestHash?.get(hash.toLowerCase());
      if (!receipt)
        throw new Error(`journal: settled batch ${batch.txHash} names an unknown receipt ${hash}`);
      return receipt;
    });
    return { ...settled, receipts };
  }
}

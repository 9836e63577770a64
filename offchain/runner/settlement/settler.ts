/**
 * Submits the runner's paid calls on-chain with `Settlement.settle`, on a schedule or when
 * enough calls are waiting, and survives crashes, a dead RPC and reorgs:
 *  - each batch is planned from the journal and the lanes' on-chain state (batchPlan.ts), so
 *    whatever the chain has already paid is never submitted again;
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
  BaseError,
  type ContractFunctionArgs,
  ContractFunctionRevertedError,
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
} from "./batchPlan";
import { compactOnWorker } from "./journalCompaction";
import type { ReceiptTree } from "./receiptTree";

/** Settlement's ABI plus the errors that bubble up from PaymentChannels. */
const settleAbi = [...settlementAbi, ...paymentChannelsAbi.filter((item) => item.type === "error")] as const;
type SettleBatch = ContractFunctionArgs<typeof settleAbi, "nonpayable", "settle">[0];

export interface SettlerOptions {
  publicClient: PublicClient;
  walletClient: WalletClient;
  account: Account;
  settlement: Address;
  paymentChannels: Address;
  journal: Journal;
  log: Logger;
  metrics?: RunnerMetrics;
  intervalMs: number;
  maxCalls: number;
  maxLanes: number;
  confirmations: number;
  /**
   * Receipts of the latest settled batches whose proofs are served (whole batches, at least the
   * last): kept in memory, and in the journal.
   */
  proofReceipts: number;
  /** The journal is compacted each time it has grown by this many bytes. */
  compactJournalBytes: number;
}

export interface SettledBatch {
  sequence: bigint;
  root: Hex;
  txHash: Hex;
  blockNumber: bigint;
  receipts: Receipt[];
  totals: BatchPlan["totals"];
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

  constructor(private readonly options: SettlerOptions) {}

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
        this.addCall(call);
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

  /** Tells the settler of a call that was answered (and journaled). */
  addCall(call: CallRecord): void {
    leafOf(call); // hashed now (if the signature thread has not), not all at settlement
    addToLanes(this.lanes, call);
    this.unsettledCalls++;
    this.settleIfDue();
  }

  /** Starts a settlement once enough calls wait; not in the caller's turn: an answer may be waiting. */
  private settleIfDue(): void {
    if (this.recovering || this.settleQueued || this.unsettledCalls < this.options.maxCalls) return;
    this.settleQueued = true;
    setImmediate(() => {
      this.settleQueued = false;
      void this.settleNow().catch(() => {});
    });
  }

  start(): void {
    this.stopped = false;
    this.schedule(this.options.intervalMs);
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

  /** Plans and submits one batch; resolves to null when nothing is unpaid. */
  settleNow(): Promise<SettledBatch | null> {
    this.running ??= this.settleOnce().finally(() => {
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
        await this.settleAll();
        this.failures = 0;
        this.schedule(this.options.intervalMs);
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

  private async plan(): Promise<BatchPlan | null> {
    const known = (lane: LaneKey) => this.paid.get(laneId(lane)) ?? { paidAmount: 0n, paidCalls: 0n };
    const candidates = [...this.lanes.values()]
      .flatMap((lane) => (lane.latest ? [lane.latest.voucher] : []))
      .filter((voucher) => voucher.cumulativeCalls > known(voucher).paidCalls);
    if (candidates.length === 0) return null;
    // The chain decides what is still unpaid.
    await this.lanePaid(candidates.filter((voucher) => !this.paid.has(laneId(voucher))));
    return planBatch(this.lanes, known, this.options.maxLanes);
  }

  private async settleOnce(): Promise<SettledBatch | null> {
    const plan = await this.plan();
    if (!plan) {
      this.unsettledCalls = 0;
      return null;
    }
    const { publicClient, walletClient, account, settlement, journal } = this.options;
    const batch = {
      receiptsRoot: plan.root,
      totals: plan.totals,
      vouchers: plan.vouchers.map(({ signature, ...voucher }) => ({ ...voucher, signature })),
    };
    try {
      const data = encodeFunctionData({ abi: settleAbi, functionName: "settle", args: [batch] });
      const prepared = await walletClient.prepareTransactionRequest({
        account,
        to: settlement,
        data,
        gas: await this.gasLimitOrRevert(batch, data),
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
      if (isAlreadySettled(error)) {
        this.options.log.info("a lane was already settled; re-planning from the chain");
        return this.settleOnce();
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

function isAlreadySettled(error: unknown): boolean {
  if (!(error instanceof BaseError)) return false;
  const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return (
    revert instanceof ContractFunctionRevertedError &&
    revert.data?.errorName === "PaymentChannels_VoucherStale"
  );
}

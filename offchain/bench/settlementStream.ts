// `npm run bench:settlement`: what the settler's policy (runner/settlement/settlePolicy.ts, its
// defaults) costs under a steady stream of paid calls. For each rate, on a fresh anvil with the
// deployed protocol: 6 consumers' channels with a lane on each of 2 models (12 lanes) are paid
// round-robin, every call a voucher signed with the consumer's key, and the settler is given each
// call as the runner gives it, on a virtual clock that anvil's block time follows (so 10 minutes of
// stream take seconds). The first consumer stops after a minute and requests close (the shortest
// challenge period, 10 minutes): its lanes must settle before the deadline. At the end the
// runner's graceful stop settles the rest. Then the chain is reverted to before the stream and the
// same lanes' last vouchers are settled in one transaction: the batched ideal.
//
// Reports per rate: settlement transactions, their gas, gas per paid call against the ideal's,
// the unsettled value and age of the oldest unsettled call sampled every (virtual) second, and
// whether any lane of the closing channel was left unsettled past its deadline.
// `--minutes N` sets the stream's length (default 10), `--rates 10,1000` the rates,
// `--interval-ms` and `--max-age-ms` another policy to compare, `--json` one JSON object.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { type Hex, keccak256, numberToHex, toHex } from "viem";
import { paymentChannelsAbi, settlementAbi } from "../../sdk/generated/abis";
import { Journal } from "../runner/journal";
import type { CallRecord } from "../runner/settlement/batchPlan";
import { SETTLE_POLICY_DEFAULTS } from "../runner/settlement/settlePolicy";
import { Settler } from "../runner/settlement/settler";
import { ConsumerLane } from "../runner/settlement/testing/consumerLane";
import {
  deployProtocol,
  devAccount,
  openChannel,
  type Protocol,
  privateKeyOf,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "../runner/testing/protocolFixture";
import { report } from "./table";

class BenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BenchError";
  }
}

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 && process.argv[at + 1] ? (process.argv[at + 1] as string) : fallback;
}
const MINUTES = Number(flag("--minutes", "10"));
const RATES = flag("--rates", "10,1000").split(",").map(Number);
// The policy: its defaults, or another to compare (`--interval-ms 10000 --max-age-ms 10000` settles
// every 10 s, as the runner did before it had a policy).
const INTERVAL_MS = Number(flag("--interval-ms", String(SETTLE_POLICY_DEFAULTS.minIntervalMs)));
const MAX_AGE_MS = Number(flag("--max-age-ms", String(6 * INTERVAL_MS)));
if (!(MINUTES > 0) || RATES.some((rate) => !(rate > 0)) || !(INTERVAL_MS > 0) || !(MAX_AGE_MS > 0))
  throw new BenchError("--minutes, --rates, --interval-ms and --max-age-ms take positive numbers");

const CONSUMERS = 6;
const PRICES = [1_000n, 2_500n];
const CHALLENGE_PERIOD = 600n; // the shortest PaymentChannels allows
const CLOSE_AT_S = 60;
const runner = devAccount(3);

interface Setup {
  p: Protocol;
  lanes: ConsumerLane[];
  closingChannel: bigint;
}

async function setUp(): Promise<Setup> {
  const p = await deployProtocol();
  const owner = devAccount(1);
  const baseModelId = await registerBaseModel(p, keccak256(toHex("settlement stream base")));
  const models: bigint[] = [];
  for (const [i, price] of PRICES.entries())
    models.push(
      await registerAdapter(
        p,
        owner,
        {
          baseModelId,
          adapterHash: keccak256(toHex(`stream adapter ${i}`)),
          pricePerCall: price,
          vaultShareBps: 1_000,
        },
        [{ account: owner, units: 1n }],
      ),
    );
  await registerRunner(p, runner, "http://127.0.0.1", 500);
  await p.write(p.deployer, {
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "setChallengePeriod",
    args: [CHALLENGE_PERIOD],
    account: p.deployer,
    chain: null,
  });
  const chain = { chainId: p.anvil.chainId, paymentChannels: p.deployment.paymentChannels };
  const lanes: ConsumerLane[] = [];
  const channels: bigint[] = [];
  for (let c = 0; c < CONSUMERS; c++) {
    const channelId = await openChannel(p, devAccount(4 + c), runner.address, 10n ** 12n);
    channels.push(channelId);
    for (const [m, modelId] of models.entries())
      lanes.push(new ConsumerLane(channelId, modelId, PRICES[m] as bigint, privateKeyOf(4 + c), chain));
  }
  return { p, lanes, closingChannel: channels[0] as bigint };
}

async function newSettler(p: Protocol, dir: string, clock: () => number) {
  const { journal } = await Journal.open(path.join(dir, "journal.log"));
  const settler = new Settler({
    publicClient: p.publicClient,
    walletClient: p.wallet(runner),
    account: runner,
    settlement: p.deployment.settlement,
    paymentChannels: p.deployment.paymentChannels,
    journal,
    log: pino({ level: "silent" }),
    intervalMs: INTERVAL_MS,
    maxAgeMs: MAX_AGE_MS,
    maxCalls: SETTLE_POLICY_DEFAULTS.maxCalls,
    maxLanes: 50,
    confirmations: 0,
    proofReceipts: 1,
    compactJournalBytes: 2 ** 40,
    clock,
  });
  return { settler, journal };
}

const rpc = (p: Protocol, method: string, params: unknown[]) =>
  p.publicClient.request({ method: method as never, params: params as never });

interface Exposure {
  maxValue: bigint;
  sumValue: bigint;
  maxAgeMs: number;
  sumAgeMs: number;
  samples: number;
}

async function stream(setup: Setup, rate: number, dir: string) {
  const { p, lanes, closingChannel } = setup;
  const snapshot = (await rpc(p, "evm_snapshot", [])) as Hex;
  const startBlock = await p.publicClient.getBlockNumber({ cacheTime: 0 });
  const t0 = Number((await p.publicClient.getBlock()).timestamp) + 1;
  let now = t0 * 1000;
  let lastBlockTime = t0 - 1;
  let lastBlock = startBlock;
  const { settler, journal } = await newSettler(p, dir, () => now);
  const latest = new Map<ConsumerLane, CallRecord>();
  let active = lanes;
  let closesAt = 0n;
  const exposure: Exposure = { maxValue: 0n, sumValue: 0n, maxAgeMs: 0, sumAgeMs: 0, samples: 0 };
  /** Anvil's next block carries the virtual time (and is later than the last block). */
  const followClock = async () => {
    const block = await p.publicClient.getBlockNumber({ cacheTime: 0 });
    if (block !== lastBlock) {
      lastBlock = block;
      lastBlockTime = Number((await p.publicClient.getBlock({ blockNumber: block })).timestamp);
    }
    await rpc(p, "evm_setNextBlockTimestamp", [
      numberToHex(Math.max(Math.floor(now / 1000), lastBlockTime + 1)),
    ]);
  };
  let served = 0;
  for (let second = 0; second < MINUTES * 60; second++) {
    now = (t0 + second) * 1000;
    await followClock();
    if (second === CLOSE_AT_S) {
      closesAt = await requestClose(p, closingChannel);
      active = lanes.filter((lane) => lane.channelId !== closingChannel); // the gate refuses a closing channel
    }
    for (let i = 0; i < rate; i++) {
      const lane = active[served++ % active.length] as ConsumerLane;
      const call = lane.next();
      latest.set(lane, call);
      settler.addCall(call, now + Math.floor((i * 1000) / rate));
    }
    await settler.tick();
    sample(exposure, settler.unsettled(), now);
  }
  now = (t0 + MINUTES * 60) * 1000;
  await followClock();
  await new Promise((resolve) => setImmediate(resolve)); // a settlement the last calls started
  await settler.stop(true); // the runner's graceful stop: settle what is left
  if (settler.unsettled().length > 0) throw new BenchError("calls left unsettled after the final settlement");
  await settler.flushPendingRevenue(); // and what it settled reaches the vaults and holders
  await journal.close();

  const batches = await settledBatches(p, startBlock);
  const flushGas = await flushesGas(p, startBlock);
  const missed = await pastDeadline(p, lanes, closingChannel, closesAt, startBlock);
  await rpc(p, "evm_revert", [snapshot]);
  const ideal = await batchedIdeal(p, [...latest.values()], path.join(dir, "ideal"));
  return { served, batches, flushGas, ideal, exposure, missed };
}

async function requestClose(p: Protocol, channelId: bigint): Promise<bigint> {
  const consumer = devAccount(4);
  await p.write(consumer, {
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "requestClose",
    args: [channelId],
    account: consumer,
    chain: null,
  });
  const channel = await p.publicClient.readContract({
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "getChannel",
    args: [channelId],
  });
  return channel.closesAt;
}

function sample(exposure: Exposure, unsettled: ReturnType<Settler["unsettled"]>, now: number) {
  const value = unsettled.reduce((sum, lane) => sum + lane.value, 0n);
  const age = unsettled.length ? now - Math.min(...unsettled.map((lane) => lane.oldestAt)) : 0;
  if (value > exposure.maxValue) exposure.maxValue = value; // bigints: no Math.max
  exposure.sumValue += value;
  exposure.maxAgeMs = Math.max(exposure.maxAgeMs, age);
  exposure.sumAgeMs += age;
  exposure.samples++;
}

/** The runner's settlement transactions since `fromBlock`: gas, lanes and calls of each. */
async function settledBatches(p: Protocol, fromBlock: bigint) {
  const events = await p.publicClient.getContractEvents({
    address: p.deployment.settlement,
    abi: settlementAbi,
    eventName: "BatchSettled",
    fromBlock,
  });
  return Promise.all(
    events.map(async (event) => {
      const receipt = await p.publicClient.getTransactionReceipt({ hash: event.transactionHash });
      const block = await p.publicClient.getBlock({ blockNumber: receipt.blockNumber });
      return { gas: receipt.gasUsed, lanes: Number(event.args.lanes), at: Number(block.timestamp) };
    }),
  );
}

/**
 * Gas of the flushes since `fromBlock` (the settler's on its schedule and the last one): with the
 * lazy revenue design they carry each model's split, part of what settling costs.
 */
async function flushesGas(p: Protocol, fromBlock: bigint): Promise<bigint> {
  const events = await p.publicClient.getContractEvents({
    address: p.deployment.settlement,
    abi: settlementAbi,
    eventName: "RevenueFlushed",
    fromBlock,
  });
  let gas = 0n;
  for (const hash of new Set(events.map((event) => event.transactionHash)))
    gas += (await p.publicClient.getTransactionReceipt({ hash })).gasUsed;
  return gas;
}

/** Lanes of the closing channel whose last voucher was not settled before its deadline. */
async function pastDeadline(
  p: Protocol,
  lanes: readonly ConsumerLane[],
  channelId: bigint,
  closesAt: bigint,
  fromBlock: bigint,
): Promise<number> {
  if (closesAt === 0n) return 0; // the stream ended before the close request
  const redeemed = await p.publicClient.getContractEvents({
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    eventName: "VoucherRedeemed",
    args: { channelId },
    fromBlock,
  });
  let missed = 0;
  for (const lane of lanes.filter((l) => l.channelId === channelId)) {
    const last = redeemed.find(
      (e) => e.args.modelId === lane.modelId && BigInt(e.args.cumulativeCalls ?? 0) === lane.paidCalls,
    );
    const block = last && (await p.publicClient.getBlock({ blockNumber: last.blockNumber }));
    if (!block || block.timestamp >= closesAt) missed++;
  }
  return missed;
}

/** Gas of settling every lane's last voucher in one transaction, from the chain as it was before the stream. */
async function batchedIdeal(p: Protocol, lastCalls: readonly CallRecord[], dir: string): Promise<bigint> {
  const { settler, journal } = await newSettler(p, mkdtempSync(`${dir}-`), Date.now);
  for (const call of lastCalls) settler.addCall(call);
  const batches = await settler.settleAll();
  const flushed = await settler.flushPendingRevenue(); // one flush of the models, as the stream ends with
  await journal.close();
  if (batches.length !== 1) throw new BenchError(`the ideal took ${batches.length} transactions, not 1`);
  const receipt = await p.publicClient.getTransactionReceipt({
    hash: (batches[0] as { txHash: Hex }).txHash,
  });
  return receipt.gasUsed + (flushed?.gasUsed ?? 0n);
}

/** Counts in order, runs of one count shortened: [12, 12, 12, 10] is "12 ×3, 10". */
function runs(counts: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < counts.length; ) {
    let j = i;
    while (counts[j] === counts[i]) j++;
    out.push(j - i > 1 ? `${counts[i]} ×${j - i}` : `${counts[i]}`);
    i = j;
  }
  return out.join(", ");
}

const duration = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`);

const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-settlement-"));
try {
  for (const rate of RATES) {
    const setup = await setUp();
    try {
      const { served, batches, flushGas, ideal, exposure, missed } = await stream(
        setup,
        rate,
        mkdtempSync(path.join(dir, "run-")),
      );
      const gas = batches.reduce((sum, b) => sum + b.gas, flushGas);
      const perCall = Number(gas) / served;
      const idealPerCall = Number(ideal) / served;
      const full = batches.reduce(
        (most, b) => (b.lanes > most.lanes ? b : most),
        batches[0] as (typeof batches)[number],
      );
      // Past one interval, a steady stream settles its active lanes once per interval.
      const steadyPerCall = Number(full.gas) / (rate * (INTERVAL_MS / 1000));
      const row = {
        "calls/s": rate,
        "paid calls": served,
        txs: batches.length,
        "lanes per tx": runs(batches.map((b) => b.lanes)),
        "flush gas": Number(flushGas),
        "total gas": Number(gas),
        "gas/paid call": Number(perCall.toFixed(2)),
        "ideal gas (1 settle + 1 flush)": Number(ideal),
        "ideal gas/paid call": Number(idealPerCall.toFixed(2)),
        "× ideal": Number((perCall / idealPerCall).toFixed(2)),
        "max unsettled value": Number(exposure.maxValue),
        "mean unsettled value": Number(exposure.sumValue / BigInt(exposure.samples)),
        "max age s": Math.round(exposure.maxAgeMs / 1000),
        "mean age s": Math.round(exposure.sumAgeMs / exposure.samples / 1000),
        "lanes past deadline": missed,
      };
      rows.push(row);
      results.push({ ...row, steadyGasPerPaidCallPerInterval: Number(steadyPerCall.toFixed(2)) });
    } finally {
      await setup.p.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

report(
  `Settlement under a steady stream (${MINUTES} min, 12 lanes, one channel closing at ${CLOSE_AT_S} s)`,
  rows,
  {
    policy: `interval ${duration(INTERVAL_MS)}, max age ${duration(MAX_AGE_MS)}, max calls ${SETTLE_POLICY_DEFAULTS.maxCalls}, close margin ${duration(SETTLE_POLICY_DEFAULTS.closeMarginMs)}`,
    aimWithin2xOfIdeal: rows.every((row) => (row["× ideal"] as number) <= 2),
    noVoucherPastDeadline: rows.every((row) => row["lanes past deadline"] === 0),
    // A stream longer than the interval settles its active lanes about once per interval.
    beyondOneInterval: results
      .map((r) => `${r["calls/s"]}/s ~${r.steadyGasPerPaidCallPerInterval} gas per paid call`)
      .join("; "),
  },
);

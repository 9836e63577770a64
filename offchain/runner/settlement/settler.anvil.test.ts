// The settler against a real anvil chain with the deployed protocol: a lane whose voucher the
// contract refuses is set aside while the others settle (and stays aside across a restart), a
// revert that is no lane's doing sets nothing aside, and a call that arrives while a plan reads
// the chain is left for the next plan.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { keccak256, type PublicClient, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paymentChannelsAbi, settlementAbi } from "../../../sdk/generated/abis";
import { Journal } from "../journal";
import { RunnerMetrics } from "../metrics";
import {
  deployProtocol,
  devAccount,
  openChannel,
  type Protocol,
  privateKeyOf,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "../testing/protocolFixture";
import { Settler } from "./settler";
import { ConsumerLane, withRawRecoveryId } from "./testing/consumerLane";

const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-settler-"));
const owner = devAccount(1);
const runner = devAccount(3);
const consumers = [devAccount(4), devAccount(5)];
const PRICE = 1_000n;
let p: Protocol;
let models: [bigint, bigint];

beforeAll(async () => {
  p = await deployProtocol();
  const baseModelId = await registerBaseModel(p, keccak256(toHex("settler test base model")));
  const register = (name: string) =>
    registerAdapter(
      p,
      owner,
      { baseModelId, adapterHash: keccak256(toHex(name)), pricePerCall: PRICE, vaultShareBps: 1_000 },
      [{ account: owner, units: 1n }],
    );
  models = [await register("adapter a"), await register("adapter b")];
  await registerRunner(p, runner, "http://127.0.0.1", 500);
}, 180_000);

afterAll(async () => {
  await p?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A channel from the `index`th consumer with a lane on each model. */
async function channelLanes(index: number) {
  const consumer = consumers[index] as (typeof consumers)[number];
  const channelId = await openChannel(p, consumer, runner.address, 1_000_000n);
  const chain = { chainId: p.anvil.chainId, paymentChannels: p.deployment.paymentChannels };
  const key = privateKeyOf(4 + index);
  return models.map((modelId) => new ConsumerLane(channelId, modelId, PRICE, key, chain));
}

/** Warnings the settler logged, as objects. */
function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, warnings: () => lines.filter((line) => line.level === 40) };
}

async function newSettler(
  name: string,
  overrides: {
    publicClient?: PublicClient;
    log?: pino.Logger;
    clock?: () => number;
    flushEveryMs?: number;
  } = {},
) {
  const { journal, records } = await Journal.open(path.join(tmp, `${name}.journal`));
  const metrics = new RunnerMetrics();
  const settler = new Settler({
    publicClient: overrides.publicClient ?? p.publicClient,
    walletClient: p.wallet(runner),
    account: runner,
    settlement: p.deployment.settlement,
    paymentChannels: p.deployment.paymentChannels,
    journal,
    log: overrides.log ?? pino({ level: "silent" }),
    metrics,
    intervalMs: 3_600_000,
    maxCalls: 1_000_000,
    maxLanes: 50,
    confirmations: 0,
    proofReceipts: 10_000,
    compactJournalBytes: 2 ** 30,
    clock: overrides.clock,
    flushEveryMs: overrides.flushEveryMs,
  });
  await settler.recover(records);
  return { settler, journal, metrics };
}

const lanePaid = (lane: ConsumerLane) =>
  p.publicClient.readContract({
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "getLane",
    args: [lane.channelId, lane.modelId],
  });

const metricValue = async (metrics: RunnerMetrics, name: string) =>
  (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];

const pendingOf = async (modelId: bigint) =>
  (
    await p.publicClient.readContract({
      address: p.deployment.settlement,
      abi: settlementAbi,
      functionName: "pendingOf",
      args: [modelId],
    })
  )[0];

describe("settler on anvil", () => {
  it("flushes the settled models' pending revenue once flushEveryMs has passed since the last flush", async () => {
    const lanes = await channelLanes(1);
    let now = Number((await p.publicClient.getBlock()).timestamp) * 1000;
    const { settler, journal } = await newSettler("flush", { clock: () => now, flushEveryMs: 60_000 });
    for (const lane of lanes) settler.addCall(lane.next());
    await settler.settleAll();
    // Too soon after the start: the revenue stays pending in Settlement.
    expect(await Promise.all(models.map(pendingOf))).toEqual([1n, 1n]);

    now += 60_000;
    const [lane] = lanes;
    if (!lane) throw new Error("no lane");
    settler.addCall(lane.next());
    await settler.settleAll();
    // Due: both models this settler settled for are flushed, the older one too.
    expect(await Promise.all(models.map(pendingOf))).toEqual([0n, 0n]);
    await journal.close();
  });

  it("settles on its policy: a closing channel's lane before its deadline, the others once the oldest call is old enough", async () => {
    const [closing] = await channelLanes(0);
    const [steady] = await channelLanes(1);
    if (!closing || !steady) throw new Error("no lanes");
    const start = Number((await p.publicClient.getBlock()).timestamp) * 1000;
    let now = start;
    const { settler, journal } = await newSettler("policy", { clock: () => now });
    settler.addCall(closing.next());
    settler.addCall(steady.next());
    expect(await settler.tick()).toEqual([]); // young, few, and no channel closing

    await p.write(p.deployer, {
      address: p.deployment.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "setChallengePeriod",
      args: [600n], // the shortest allowed: its deadline comes well before the maximum age
      account: p.deployer,
      chain: null,
    });
    const consumer = consumers[0] as (typeof consumers)[number];
    await p.write(consumer, {
      address: p.deployment.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "requestClose",
      args: [closing.channelId],
      account: consumer,
      chain: null,
    });
    const { closesAt } = await p.publicClient.readContract({
      address: p.deployment.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "getChannel",
      args: [closing.channelId],
    });
    const margin = 5 * 60_000; // the default closeMarginMs
    now = Number(closesAt) * 1000 - margin - 1;
    expect(await settler.tick()).toEqual([]);
    now += 1;
    const [deadline] = await settler.tick();
    expect(deadline?.receipts.map((r) => r.channelId)).toEqual([closing.channelId]);
    expect(await lanePaid(closing)).toMatchObject({ paidCalls: 1n });
    expect(await lanePaid(steady)).toMatchObject({ paidCalls: 0n });

    now = start + 6 * 3_600_000 - 1; // maxAgeMs: 6 × intervalMs
    expect(await settler.tick()).toEqual([]);
    now += 1;
    expect(await settler.tick()).toHaveLength(1);
    expect(await lanePaid(steady)).toMatchObject({ paidCalls: 1n });
    await journal.close();
  });

  it("sets aside a lane whose voucher the contract refuses, settles the others, and keeps it aside after a restart", async () => {
    const [honestA, honestB] = await channelLanes(0);
    const [poisoned] = await channelLanes(1);
    if (!honestA || !honestB || !poisoned) throw new Error("no lanes");
    const { log, warnings } = capturingLog();
    const { settler, journal, metrics } = await newSettler("poisoned", { log });
    for (let i = 0; i < 3; i++) settler.addCall(honestA.next());
    for (let i = 0; i < 2; i++) settler.addCall(honestB.next());
    settler.addCall(poisoned.next());
    const bad = poisoned.next();
    settler.addCall({ ...bad, voucherSignature: withRawRecoveryId(bad.voucherSignature) });

    const batches = await settler.settleAll();

    expect(batches).toHaveLength(1);
    expect(batches[0]?.receipts).toHaveLength(5);
    expect(await lanePaid(honestA)).toEqual({ paidAmount: 3n * PRICE, paidCalls: 3n });
    expect(await lanePaid(honestB)).toEqual({ paidAmount: 2n * PRICE, paidCalls: 2n });
    expect(await lanePaid(poisoned)).toEqual({ paidAmount: 0n, paidCalls: 0n });
    expect(settler.isQuarantined(poisoned)).toBe(true);
    expect(settler.quarantinedLanes).toMatchObject([
      { channelId: poisoned.channelId, modelId: poisoned.modelId, throughCall: 2n },
    ]);
    expect(settler.quarantinedLanes[0]?.error).toMatch(/^PaymentChannels_InvalidSignature\(channelId=/);
    expect(await metricValue(metrics, "openlora_settlement_lanes_quarantined_total")).toEqual([
      { labels: { error: "PaymentChannels_InvalidSignature" }, value: 1 },
    ]);
    expect((await metricValue(metrics, "openlora_settlement_quarantined_lanes"))[0]?.value).toBe(1);
    expect(warnings()).toMatchObject([
      {
        channelId: Number(poisoned.channelId),
        modelId: Number(poisoned.modelId),
        error: expect.stringMatching(/InvalidSignature/),
      },
    ]);
    expect(settler.pendingCalls).toBe(2); // the set-aside calls are still unsettled
    await journal.close();

    // Restarted from its journal, the runner neither settles nor tries the lane again...
    const again = await newSettler("poisoned");
    expect(again.settler.quarantinedLanes).toEqual(settler.quarantinedLanes);
    expect(await again.settler.settleAll()).toEqual([]);
    // ...until the lane's next voucher, which pays for the set-aside calls too.
    again.settler.addCall(poisoned.next());
    expect(again.settler.isQuarantined(poisoned, 3n)).toBe(false);
    expect(await again.settler.settleAll()).toHaveLength(1);
    expect(await lanePaid(poisoned)).toEqual({ paidAmount: 3n * PRICE, paidCalls: 3n });
    expect(again.settler.quarantinedLanes).toEqual([]);
    await again.journal.close();
  });

  it("sets aside every lane of a channel the consumer has withdrawn, and settles the rest", async () => {
    const [closed] = await channelLanes(0);
    const [open] = await channelLanes(1);
    if (!closed || !open) throw new Error("no lanes");
    const { settler, journal } = await newSettler("withdrawn");
    settler.addCall(closed.next());
    settler.addCall(open.next());
    const consumer = consumers[0] as (typeof consumers)[number];
    const write = (functionName: "requestClose" | "withdraw") =>
      p.write(consumer, {
        address: p.deployment.paymentChannels,
        abi: paymentChannelsAbi,
        functionName,
        args: [closed.channelId],
        account: consumer,
        chain: null,
      });
    await write("requestClose");
    const period = await p.publicClient.readContract({
      address: p.deployment.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "challengePeriod",
    });
    await p.publicClient.request({ method: "evm_increaseTime" as never, params: [toHex(period)] as never });
    await write("withdraw");

    expect(await settler.settleAll()).toHaveLength(1);
    expect(await lanePaid(open)).toEqual({ paidAmount: PRICE, paidCalls: 1n });
    expect(settler.quarantinedLanes).toMatchObject([
      { channelId: closed.channelId, modelId: closed.modelId },
    ]);
    expect(settler.quarantinedLanes[0]?.error).toMatch(
      /^PaymentChannels_(ChannelClosed|ChallengePeriodEnded)/,
    );
    await journal.close();
  });

  it("sets nothing aside when the batch fails for no lane's doing (settlement paused), and settles once it is not", async () => {
    const [a, b] = await channelLanes(0);
    if (!a || !b) throw new Error("no lanes");
    const { settler, journal } = await newSettler("paused");
    settler.addCall(a.next());
    settler.addCall(b.next());
    const pause = (functionName: "pause" | "unpause") =>
      p.write(p.deployer, {
        address: p.deployment.settlement,
        abi: settlementAbi,
        functionName,
        account: p.deployer,
        chain: null,
      });
    await pause("pause");
    try {
      await expect(settler.settleAll()).rejects.toThrow(/EnforcedPause/);
      expect(settler.quarantinedLanes).toEqual([]);
    } finally {
      await pause("unpause");
    }
    expect(await settler.settleAll()).toHaveLength(1);
    expect(await lanePaid(a)).toMatchObject({ paidCalls: 1n });
    expect(await lanePaid(b)).toMatchObject({ paidCalls: 1n });
    await journal.close();
  });

  it("plans a call that arrives while the plan reads the chain in the next batch, not on an unread paid state", async () => {
    const [settledBefore, fresh] = await channelLanes(1);
    if (!settledBefore || !fresh) throw new Error("no lanes");
    // An earlier run settled two calls of a lane; this runner starts without them (compacted).
    const earlier = await newSettler("earlier run");
    earlier.settler.addCall(settledBefore.next());
    earlier.settler.addCall(settledBefore.next());
    expect(await earlier.settler.settleAll()).toHaveLength(1);
    await earlier.journal.close();

    // The lane's third call is answered while the settler reads the other lane's paid state.
    let arrive: (() => void) | undefined;
    const slowed = {
      ...p.publicClient,
      readContract: (async (args: Parameters<PublicClient["readContract"]>[0]) => {
        if (args.functionName === "getLane" && arrive) {
          const call = arrive;
          arrive = undefined;
          call();
        }
        return p.publicClient.readContract(args);
      }) as PublicClient["readContract"],
    } as PublicClient;
    const { settler, journal } = await newSettler("planning", { publicClient: slowed });
    settler.addCall(fresh.next());
    arrive = () => settler.addCall(settledBefore.next());

    const batches = await settler.settleAll();

    expect(batches.map((batch) => batch.receipts.map((r) => [r.modelId, r.callIndex]))).toEqual([
      [[fresh.modelId, 1n]],
      [[settledBefore.modelId, 3n]],
    ]);
    expect(await lanePaid(settledBefore)).toEqual({ paidAmount: 3n * PRICE, paidCalls: 3n });
    expect(await lanePaid(fresh)).toEqual({ paidAmount: PRICE, paidCalls: 1n });
    await journal.close();
  });
});

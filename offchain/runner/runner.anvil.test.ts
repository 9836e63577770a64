// The runner against a real anvil chain with the deployed protocol: paid calls settled
// on-chain with a verifiable receipt, a SIGKILL between answering and settling, an RPC outage,
// and a tampered adapter.
import { type ChildProcess, spawn } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { type Hex, keccak256 } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelLanes } from "../../sdk/consumer/lanes";
import type { PaidReceipt } from "../../sdk/consumer/payingFetch";
import { modelRegistryAbi, paymentChannelsAbi, settlementAbi } from "../../sdk/generated/abis";
import {
  decodePaymentRequired,
  decodePaymentResponse,
  encodeHeader,
  HEADERS,
  paymentPayload,
} from "../../sdk/protocol/x402";
import { USE_LITE_HASH } from "../ml/base/useLite/useLiteBase";
import { contentHash } from "../ml/hash";
import { loadRunnerConfig } from "./config";
import { encodeRecord, readJournal } from "./journal";
import { startRunner } from "./runner";
import type { CallRecord, LaneRange } from "./settlement/batchPlan";
import { refusingMethods } from "./testing/methodFilter";
import { inferBody, payingClient } from "./testing/payingClient";
import {
  deployProtocol,
  devAccount,
  type Protocol,
  privateKeyOf,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "./testing/protocolFixture";
import { head, rawRequest } from "./testing/rawHttp";
import { RpcProxy } from "./testing/rpcProxy";

const SPAM = "offchain/ml/models/spam-filter";
const SENTIMENT = "offchain/ml/models/crypto-sentiment";
const adapterHashOf = (dir: string) => contentHash(readFileSync(path.join(dir, "adapter_model.safetensors")));

const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-runner-"));
let p: Protocol;
let deploymentsFile: string;
const owner = devAccount(1);
const contributor = devAccount(2);
const runnerAccount = devAccount(3);
const consumer = devAccount(4);
let spamModel: bigint;
let sentimentModel: bigint;

beforeAll(async () => {
  p = await deployProtocol();
  deploymentsFile = path.join(tmp, "deployment.json");
  writeFileSync(deploymentsFile, JSON.stringify(p.deployment));
  const baseModelId = await registerBaseModel(p, USE_LITE_HASH);
  const contributors = [
    { account: owner, units: 600n },
    { account: contributor, units: 400n },
  ];
  spamModel = await registerAdapter(
    p,
    owner,
    { baseModelId, adapterHash: adapterHashOf(SPAM), pricePerCall: 1_000n, vaultShareBps: 2_000 },
    contributors,
  );
  sentimentModel = await registerAdapter(
    p,
    owner,
    { baseModelId, adapterHash: adapterHashOf(SENTIMENT), pricePerCall: 2_500n, vaultShareBps: 1_000 },
    contributors,
  );
  await registerRunner(p, runnerAccount, "http://127.0.0.1", 500);
});

afterAll(async () => {
  await p?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function runnerConfig(dataDir: string, overrides: Record<string, unknown> = {}) {
  return loadRunnerConfig({
    env: { OPENLORA_RUNNER_KEY: privateKeyOf(3) },
    flags: {
      rpcUrl: p.anvil.rpcUrl,
      deployments: deploymentsFile,
      port: 0,
      dataDir,
      adapters: [SPAM, SENTIMENT],
      settlement: { intervalMs: 3_600_000, confirmations: 0 },
      chainCacheMs: 60_000,
      ...overrides,
    },
  });
}

const lanePaid = (channelId: bigint, modelId: bigint) =>
  p.publicClient.readContract({
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "getLane",
    args: [channelId, modelId],
  });
/** Settled usage: the registry's counters and what Settlement holds pending a flush. */
const usage = async (modelId: bigint) => {
  const [model, [pendingCalls, pendingRevenue]] = await Promise.all([
    p.publicClient.readContract({
      address: p.deployment.modelRegistry,
      abi: modelRegistryAbi,
      functionName: "getModel",
      args: [modelId],
    }),
    p.publicClient.readContract({
      address: p.deployment.settlement,
      abi: settlementAbi,
      functionName: "pendingOf",
      args: [modelId],
    }),
  ]);
  return { calls: model.totalCalls + pendingCalls, revenue: model.totalRevenue + pendingRevenue };
};
/** Asks the runner for a receipt's Merkle proof and checks it with Settlement.verifyReceipt. */
const provenOnChain = async (url: string, runner: Hex, receipt: PaidReceipt) => {
  const response = await fetch(`${url}/v2/receipts/${receipt.receipt.requestHash}/proof`);
  if (response.status !== 200) return false;
  const proof = (await response.json()) as { sequence: string; proof: Hex[] };
  return p.publicClient.readContract({
    address: p.deployment.settlement,
    abi: settlementAbi,
    functionName: "verifyReceipt",
    args: [runner, BigInt(proof.sequence), receipt.receipt, proof.proof],
  });
};
const settleVia = async (url: string) => {
  const res = await fetch(`${url}/v2/settlement`, { method: "POST" });
  if (res.status !== 200) throw new Error(`settlement failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { batches: unknown[] };
};

/**
 * Sends a lane's first voucher again, as a replay (or a consumer that lost its state) sends it.
 * Returns the terms the runner offered and how it answered.
 */
async function replayFirstVoucher(
  runnerUrl: string,
  account: ReturnType<typeof devAccount>,
  channelId: bigint,
  modelId: bigint,
) {
  const url = `${runnerUrl}/v2/models/${modelId}/infer`;
  const channel = { [HEADERS.channel]: channelId.toString() };
  const probe = await fetch(url, { method: "POST", headers: channel, body: inferBody("probe") });
  const terms = decodePaymentRequired(probe.headers.get(HEADERS.required)).accepts[0];
  if (!terms) throw new Error("no payment terms offered");
  const body = inferBody("a replayed call");
  const replay = await new ChannelLanes(
    account,
    p.anvil.chainId,
    p.deployment.paymentChannels,
    channelId,
  ).signNext(modelId, terms.amount, body);
  const response = await fetch(url, {
    method: "POST",
    headers: {
      ...channel,
      [HEADERS.signature]: encodeHeader(
        paymentPayload(terms, replay.voucher, replay.requestHash, replay.signature),
      ),
    },
    body,
  });
  const reason = decodePaymentResponse(response.headers.get(HEADERS.response)).errorReason;
  return { terms, refused: { status: response.status, reason } };
}

/** Rewrites a journal's batch records as earlier runners wrote them: receipts named by request hash. */
function rewriteBatchesByRequestHash(file: string) {
  const { records } = readJournal(readFileSync(file));
  const calls = records.filter((r) => r.type === "call") as unknown as CallRecord[];
  const rewritten = records.map((record) => {
    if (record.type !== "batch") return record;
    const { ranges, ...batch } = record as { ranges: LaneRange[] };
    expect(ranges.length).toBeGreaterThan(0);
    const requestHashes = ranges.flatMap((range) =>
      calls
        .filter(
          ({ receipt: r }) =>
            r.channelId === range.channelId &&
            r.modelId === range.modelId &&
            r.callIndex >= range.fromCall &&
            r.callIndex <= range.toCall,
        )
        .map(({ receipt }) => receipt.requestHash),
    );
    return { ...batch, requestHashes };
  });
  writeFileSync(file, Buffer.concat(rewritten.map(encodeRecord)));
}

describe("runner on anvil", () => {
  it("serves paid calls, settles them in one batch, and proves a receipt on-chain", async () => {
    const runner = await startRunner(runnerConfig(path.join(tmp, "happy")), {}, pino({ level: "silent" }));
    const client = await payingClient(p, runnerAccount.address, consumer, 1_000_000n);
    try {
      const spam = await client.call(
        runner.url,
        spamModel,
        "Congratulations! You won a FREE iPhone, claim now!!!",
      );
      expect(spam.outputs[0]?.data[0]).toBe("spam");
      await client.call(runner.url, spamModel, "Hi Anna, the meeting notes are attached, see you Tuesday.");
      await client.call(runner.url, sentimentModel, "ETH just broke out, this rally looks strong");

      const { batches } = await settleVia(runner.url);
      expect(batches).toHaveLength(1);
      expect(await lanePaid(client.channelId, spamModel)).toMatchObject({
        paidAmount: 2_000n,
        paidCalls: 2n,
      });
      expect(await lanePaid(client.channelId, sentimentModel)).toMatchObject({
        paidAmount: 2_500n,
        paidCalls: 1n,
      });
      expect(await usage(spamModel)).toEqual({ calls: 2n, revenue: 2_000n });

      const receipt = client.receipts[2] as PaidReceipt;
      expect(await provenOnChain(runner.url, runner.address, receipt)).toBe(true);
      expect((await settleVia(runner.url)).batches).toHaveLength(0); // nothing left to settle

      // A second batch pays the lane on from where the first left it.
      await client.call(runner.url, spamModel, "Your parcel is waiting, confirm your address here");
      expect((await settleVia(runner.url)).batches).toHaveLength(1);
      expect(await lanePaid(client.channelId, spamModel)).toMatchObject({
        paidAmount: 3_000n,
        paidCalls: 3n,
      });
      expect(await provenOnChain(runner.url, runner.address, client.receipts[3] as PaidReceipt)).toBe(true);
    } finally {
      await runner.stop();
    }
    // The journal names a batch's receipts by lane and call: a restarted runner still proves them,
    // and so does one whose journal names them by request hash, as earlier runners wrote it.
    const dataDir = path.join(tmp, "happy");
    for (const journalFormat of ["ranges", "request hashes"]) {
      if (journalFormat === "request hashes") rewriteBatchesByRequestHash(path.join(dataDir, "journal.log"));
      const restarted = await startRunner(runnerConfig(dataDir), {}, pino({ level: "silent" }));
      try {
        for (const receipt of client.receipts)
          expect(await provenOnChain(restarted.url, restarted.address, receipt)).toBe(true);
        expect((await settleVia(restarted.url)).batches).toHaveLength(0);
      } finally {
        await restarted.stop();
      }
    }
  });

  it("refuses vouchers the chain has already paid when it lost its journal, and a consumer that lost its state too resumes from the chain", async () => {
    const account = devAccount(8);
    const first = await startRunner(
      runnerConfig(path.join(tmp, "journal-lost")),
      {},
      pino({ level: "silent" }),
    );
    const client = await payingClient(p, runnerAccount.address, account, 1_000_000n);
    try {
      for (let i = 0; i < 2; i++) await client.call(first.url, spamModel, `before the loss ${i}`);
      await settleVia(first.url);
    } finally {
      await first.stop();
    }
    // The same runner key on an empty data directory: its journal knows nothing of the lane.
    const second = await startRunner(
      runnerConfig(path.join(tmp, "journal-new")),
      {},
      pino({ level: "silent" }),
    );
    try {
      const { terms, refused } = await replayFirstVoucher(second.url, account, client.channelId, spamModel);
      expect(terms.extra.lane).toBeUndefined(); // taken from the chain, which keeps no transcript
      expect(refused).toEqual({ status: 402, reason: "voucher_stale" });
      // The consumer lost its lane state too: offered none by the runner, it resumes from the
      // chain, pays the third call, and the contract takes that voucher.
      client.loseState();
      await client.call(second.url, spamModel, "after the loss");
      await settleVia(second.url);
      expect(await lanePaid(client.channelId, spamModel)).toMatchObject({
        paidAmount: 3_000n,
        paidCalls: 3n,
      });
    } finally {
      await second.stop();
    }
  });

  it("re-plans from the chain when another runner with its key and journal settled a lane first, paying nothing twice", async () => {
    // An operator restores a copy of the journal on a second machine while the first still
    // runs. Both know the lane's vouchers; the first believes the lane paid up to call 2.
    const first = await startRunner(runnerConfig(path.join(tmp, "first")), {}, pino({ level: "silent" }));
    const client = await payingClient(p, runnerAccount.address, devAccount(8), 1_000_000n);
    const copyDir = path.join(tmp, "restored");
    let second: Awaited<ReturnType<typeof startRunner>> | undefined;
    try {
      for (let i = 0; i < 2; i++) await client.call(first.url, spamModel, `settled by the first ${i}`);
      expect((await settleVia(first.url)).batches).toHaveLength(1);
      for (let i = 0; i < 2; i++) await client.call(first.url, spamModel, `settled by the second ${i}`);
      const before = await usage(spamModel);
      mkdirSync(copyDir, { recursive: true });
      copyFileSync(path.join(tmp, "first", "journal.log"), path.join(copyDir, "journal.log"));
      second = await startRunner(runnerConfig(copyDir), {}, pino({ level: "silent" }));
      expect((await settleVia(second.url)).batches).toHaveLength(1);
      expect(await lanePaid(client.channelId, spamModel)).toMatchObject({
        paidAmount: 4_000n,
        paidCalls: 4n,
      });
      // The first's batch of calls 1 to 4 would revert (a stale voucher): it reads the lane from
      // the chain again and finds nothing left to settle.
      expect((await settleVia(first.url)).batches).toHaveLength(0);
      expect(await usage(spamModel)).toEqual({ calls: before.calls + 2n, revenue: before.revenue + 2_000n });
    } finally {
      await Promise.all([first.stop(), second?.stop()]);
    }
  });

  it("compacts its journal once batches settle, and restarts from the compacted journal as it was", async () => {
    const dataDir = path.join(tmp, "compacted");
    const journalFile = path.join(dataDir, "journal.log");
    // Proofs of the last batch only, and a journal compacted after every batch.
    const settlement = { intervalMs: 3_600_000, confirmations: 0, proofReceipts: 1, compactJournalMB: 1e-6 };
    const account = devAccount(9);
    const client = await payingClient(p, runnerAccount.address, account, 1_000_000n);
    const first = await startRunner(runnerConfig(dataDir, { settlement }), {}, pino({ level: "silent" }));
    const journaledCalls = () =>
      readJournal(readFileSync(journalFile)).records.flatMap((r) => {
        if (r.type !== "call") return [];
        const { receipt } = r as unknown as CallRecord;
        return [`${receipt.modelId === spamModel ? "spam" : "sentiment"} ${receipt.callIndex}`];
      });
    try {
      // The first batch holds the sentiment lane's only call; the second, spam calls only.
      await client.call(first.url, sentimentModel, "SOL is pumping, to the moon");
      for (let i = 0; i < 3; i++) await client.call(first.url, spamModel, `first batch ${i}`);
      await settleVia(first.url);
      for (let i = 0; i < 2; i++) await client.call(first.url, spamModel, `second batch ${i}`);
      await settleVia(first.url);
      await client.call(first.url, spamModel, "not settled yet");
      // The compaction after the second batch drops the first batch's calls, in the background.
      // It counts itself done only once the directory is synced, after the new file is in place:
      // wait for the count, not the file.
      const compactionsDone = async () =>
        (await first.metrics.journalCompactions.get()).values.find((v) => v.labels.result === "done")
          ?.value ?? 0;
      for (let tries = 0; (await compactionsDone()) < 2 && tries < 500; tries++) await sleep(20);
      expect(await compactionsDone()).toBe(2);
      expect(journaledCalls()).toEqual(["spam 4", "spam 5", "spam 6"]);
      expect(await provenOnChain(first.url, first.address, client.receipts[1] as PaidReceipt)).toBe(false);
      expect(await provenOnChain(first.url, first.address, client.receipts[5] as PaidReceipt)).toBe(true);
    } finally {
      await first.stop({ settle: false });
    }
    const { records } = readJournal(readFileSync(journalFile));
    expect(records.map((r) => r.type)).toEqual(["lane", "lane", "call", "call", "batch", "call"]);

    const second = await startRunner(runnerConfig(dataDir, { settlement }), {}, pino({ level: "silent" }));
    try {
      // The sentiment lane's lane record tells the gate what the lane accepted, transcript and
      // all (from the chain alone it would offer no lane), and an old voucher stays refused.
      const { terms, refused } = await replayFirstVoucher(
        second.url,
        account,
        client.channelId,
        sentimentModel,
      );
      expect(terms.extra.lane).toMatchObject({ cumulativeCalls: 1n, cumulativeAmount: 2_500n });
      expect(refused).toEqual({ status: 402, reason: "voucher_stale" });
      expect(await provenOnChain(second.url, second.address, client.receipts[5] as PaidReceipt)).toBe(true);
      // The unsettled call settles once; both lanes go on where they were.
      await client.call(second.url, spamModel, "after the restart");
      await client.call(second.url, sentimentModel, "BTC dominance keeps rising");
      expect((await settleVia(second.url)).batches).toHaveLength(1);
      expect(await lanePaid(client.channelId, spamModel)).toMatchObject({
        paidAmount: 7_000n,
        paidCalls: 7n,
      });
      expect(await lanePaid(client.channelId, sentimentModel)).toMatchObject({ paidCalls: 2n });
      expect(await provenOnChain(second.url, second.address, client.receipts[6] as PaidReceipt)).toBe(true);
    } finally {
      await second.stop();
    }
  });

  it("refuses a tampered adapter and keeps serving the other models", async () => {
    const dataDir = path.join(tmp, "tampered");
    const runner = await startRunner(runnerConfig(dataDir), {}, pino({ level: "silent" }));
    try {
      const stored = path.join(dataDir, "adapters", `${adapterHashOf(SENTIMENT)}.safetensors`);
      const bytes = readFileSync(stored);
      bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0x01;
      writeFileSync(stored, bytes);
      const client = await payingClient(p, runnerAccount.address, devAccount(5), 100_000n);
      await expect(client.call(runner.url, sentimentModel, "bullish")).rejects.toThrow(/503.*refused/);
      await expect(client.call(runner.url, spamModel, "free money now")).resolves.toBeDefined();
    } finally {
      await runner.stop({ settle: false });
    }
  });
});

/** `openlora serve` as a child process. */
function serveProcess(dataDir: string, rpcUrl: string): ChildProcess {
  return spawn(
    process.execPath,
    [
      "bin/openlora.mjs",
      "serve",
      "--rpc",
      rpcUrl,
      "--deployments",
      deploymentsFile,
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--adapters",
      SPAM,
      SENTIMENT,
      "--settle-interval-ms",
      "3600000",
    ],
    {
      env: {
        ...process.env,
        OPENLORA_RUNNER_KEY: privateKeyOf(3),
        OPENLORA_CHAIN_CACHE_MS: "60000",
        // No OPENLORA_SETTLEMENT__CONFIRMATIONS: on anvil's chain id the default is 0, else a
        // settlement would wait for a block that only the next transaction brings.
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
}

/** `openlora serve` as a child process; resolves with its URL once it serves. */
function spawnRunner(dataDir: string, rpcUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = serveProcess(dataDir, rpcUrl);
  return new Promise((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
      if (match && output.includes("runner is serving")) resolve({ child, url: match[1] as string });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => reject(new Error(`runner exited with ${code}:\n${output}`)));
  });
}

/** Runs `openlora serve` to its exit; resolves with its exit code and what it printed. */
function serveUntilExit(dataDir: string, rpcUrl: string): Promise<{ code: number | null; output: string }> {
  const child = serveProcess(dataDir, rpcUrl);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000); // a second runner that serves
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

describe("runner faults on anvil", () => {
  it("refuses a second `serve` on a data directory in use, naming its pid, and restarts at once after a SIGKILL", async () => {
    const dataDir = path.join(tmp, "locked");
    const first = await spawnRunner(dataDir, p.anvil.rpcUrl);
    try {
      const second = await serveUntilExit(dataDir, p.anvil.rpcUrl);
      expect(second.code).toBe(2); // bad usage: docs/cli.md
      expect(second.output).toContain(
        `the data directory ${realpathSync(dataDir)} is in use by another runner (pid ${first.child.pid})`,
      );
      // The first runner was not disturbed.
      expect((await fetch(`${first.url}/v2/health/ready`)).status).toBe(200);
    } finally {
      first.child.kill("SIGKILL");
      await new Promise((resolve) => first.child.once("exit", resolve));
    }
    // The lock died with its process: no stale lock blocks the restart.
    const restarted = await spawnRunner(dataDir, p.anvil.rpcUrl);
    expect((await fetch(`${restarted.url}/v2/health/ready`)).status).toBe(200);
    restarted.child.kill("SIGTERM");
    await new Promise((resolve) => restarted.child.once("exit", resolve));
  });

  it("settles every journaled receipt exactly once after a SIGKILL between answering and settling", async () => {
    const dataDir = path.join(tmp, "killed");
    const first = await spawnRunner(dataDir, p.anvil.rpcUrl);
    const client = await payingClient(p, runnerAccount.address, devAccount(6), 1_000_000n);
    for (let i = 0; i < 6; i++) await client.call(first.url, spamModel, `message number ${i}`);
    const before = await usage(spamModel);
    first.child.kill("SIGKILL");
    await new Promise((resolve) => first.child.once("exit", resolve));

    const second = await spawnRunner(dataDir, p.anvil.rpcUrl);
    try {
      await client.call(second.url, spamModel, "after the restart");
      await settleVia(second.url);
      expect(await lanePaid(client.channelId, spamModel)).toMatchObject({
        paidAmount: 7_000n,
        paidCalls: 7n,
      });
      expect(await usage(spamModel)).toEqual({ calls: before.calls + 7n, revenue: before.revenue + 7_000n });
      expect((await settleVia(second.url)).batches).toHaveLength(0);
    } finally {
      second.child.kill("SIGTERM");
      await new Promise((resolve) => second.child.once("exit", resolve));
    }
  });

  it("answers a call whose answer was lost to a SIGKILL again after the restart, for the same payment, and settles it once", async () => {
    const dataDir = path.join(tmp, "lost-answer");
    const journalFile = path.join(dataDir, "journal.log");
    const first = await spawnRunner(dataDir, p.anvil.rpcUrl);
    const account = devAccount(7);
    const { channelId } = await payingClient(p, runnerAccount.address, account, 1_000_000n);
    const before = await usage(spamModel);
    const url = `${first.url}/v2/models/${spamModel}/infer`;
    const body = inferBody("the runner dies before this answer leaves");
    const probe = await fetch(url, { method: "POST", body });
    const terms = decodePaymentRequired(probe.headers.get(HEADERS.required)).accepts[0];
    if (!terms) throw new Error("no payment terms offered");
    const lanes = new ChannelLanes(account, p.anvil.chainId, p.deployment.paymentChannels, channelId);
    const call = await lanes.signNext(spamModel, terms.amount, body);
    const payment = encodeHeader(paymentPayload(terms, call.voucher, call.requestHash, call.signature));
    // The request arrives whole and is charged; the client is gone, then the runner is killed.
    await rawRequest(first.url, {
      parts: [
        head(`POST /v2/models/${spamModel}/infer HTTP/1.1`, {
          host: "runner",
          "content-length": Buffer.byteLength(body),
          [HEADERS.signature]: payment,
        }),
        body,
      ],
      abandon: true,
    });
    const journaled = () =>
      readJournal(readFileSync(journalFile)).records.filter(
        (r) => r.type === "call",
      ) as unknown as CallRecord[];
    for (let tries = 0; journaled().length === 0 && tries < 500; tries++) await sleep(20);
    const [charged] = journaled();
    if (!charged) throw new Error("the call was not journaled");
    first.child.kill("SIGKILL");
    await new Promise((resolve) => first.child.once("exit", resolve));

    const second = await spawnRunner(dataDir, p.anvil.rpcUrl);
    try {
      const again = await fetch(`${second.url}/v2/models/${spamModel}/infer`, {
        method: "POST",
        body,
        headers: { [HEADERS.signature]: payment },
      });
      expect(again.status).toBe(200);
      expect(keccak256(new Uint8Array(await again.arrayBuffer()))).toBe(charged.receipt.outputHash);
      expect(decodePaymentResponse(again.headers.get(HEADERS.response)).extra?.receipt).toEqual(
        charged.receipt,
      );
      expect(journaled()).toHaveLength(1);
      await settleVia(second.url);
      expect(await lanePaid(channelId, spamModel)).toMatchObject({ paidAmount: 1_000n, paidCalls: 1n });
      expect(await usage(spamModel)).toEqual({ calls: before.calls + 1n, revenue: before.revenue + 1_000n });
    } finally {
      second.child.kill("SIGTERM");
      await new Promise((resolve) => second.child.once("exit", resolve));
    }
  });

  it("settles on a node without eth_createAccessList, with the node's gas estimate", async () => {
    const rpc = await refusingMethods(p.anvil.rpcUrl, ["eth_createAccessList"]);
    const runner = await startRunner(
      runnerConfig(path.join(tmp, "no-access-list"), { rpcUrl: rpc.url }),
      {},
      pino({ level: "silent" }),
    );
    try {
      const client = await payingClient(p, runnerAccount.address, devAccount(8), 1_000_000n);
      for (let i = 0; i < 2; i++) await client.call(runner.url, spamModel, `message ${i}`);
      expect((await settleVia(runner.url)).batches).toHaveLength(1);
      expect(rpc.refusedCalls).toContain("eth_createAccessList");
      expect(await lanePaid(client.channelId, spamModel)).toMatchObject({
        paidAmount: 2_000n,
        paidCalls: 2n,
      });
    } finally {
      await runner.stop({ settle: false });
      await rpc.close();
    }
  });

  it("keeps serving within known balances while the RPC is down and settles when it returns", async () => {
    const rpc = new RpcProxy(new URL(p.anvil.rpcUrl));
    await rpc.up();
    const runner = await startRunner(
      runnerConfig(path.join(tmp, "outage"), {
        rpcUrl: rpc.url,
        settlement: { intervalMs: 300, confirmations: 0 },
      }),
      {},
      pino({ level: "silent" }),
    );
    try {
      const client = await payingClient(p, runnerAccount.address, devAccount(7), 1_000_000n);
      await client.call(runner.url, spamModel, "before the outage");
      await rpc.down();
      for (let i = 0; i < 3; i++) await client.call(runner.url, spamModel, `during the outage ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // settlement attempts fail meanwhile
      expect((await lanePaid(client.channelId, spamModel)).paidCalls).toBeLessThan(4n);
      await rpc.up();
      const deadline = Date.now() + 30_000;
      while ((await lanePaid(client.channelId, spamModel)).paidCalls < 4n && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(await lanePaid(client.channelId, spamModel)).toMatchObject({
        paidAmount: 4_000n,
        paidCalls: 4n,
      });
    } finally {
      await runner.stop({ settle: false });
      await rpc.down();
    }
  });

  it("answers paid calls within a read timeout while the RPC hangs, and settles when it answers again", async () => {
    const rpc = new RpcProxy(new URL(p.anvil.rpcUrl));
    await rpc.up();
    const readTimeoutMs = 300;
    const runner = await startRunner(
      runnerConfig(path.join(tmp, "hang"), {
        rpcUrl: rpc.url,
        chainCacheMs: 100, // so that calls during the hang refresh from the chain
        chainReadTimeoutMs: readTimeoutMs,
      }),
      {},
      pino({ level: "silent" }),
    );
    try {
      const client = await payingClient(p, runnerAccount.address, devAccount(6), 1_000_000n);
      const unseen = await payingClient(p, runnerAccount.address, devAccount(6), 1_000_000n);
      await client.call(runner.url, spamModel, "before the hang");
      rpc.hang();
      const latencies: number[] = [];
      for (let i = 0; i < 4; i++) {
        const started = performance.now();
        await client.call(runner.url, spamModel, `during the hang ${i}`);
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 150)); // past the cache period
      }
      expect(rpc.hungRequests).toBeGreaterThan(0); // the runner did ask the hanging RPC
      // Served on the last known state: no call waited on the hanging RPC beyond a read timeout.
      expect(Math.max(...latencies)).toBeLessThan(3 * readTimeoutMs);
      // A channel it has never seen cannot be checked: refused, not left waiting.
      await expect(unseen.call(runner.url, spamModel, "unknown channel")).rejects.toThrow(/503/);
      await rpc.up();
      await settleVia(runner.url);
      expect(await lanePaid(client.channelId, spamModel)).toMatchObject({
        paidAmount: 5_000n,
        paidCalls: 5n,
      });
    } finally {
      await runner.stop({ settle: false });
      await rpc.down();
    }
  });
});

// A stock x402 client (@x402/fetch's wrapFetchWithPayment over @x402/core's x402Client, as
// published) with the openlora-channel scheme registered pays a real runner on a real anvil
// chain, calls one at a time and concurrently, and the receipts it got settle on-chain.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { wrapFetchWithPayment, x402Client } from "@x402/fetch";
import pino from "pino";
import { type Hex, keccak256 } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { USE_LITE_HASH } from "../../offchain/ml/base/useLite/useLiteBase";
import { contentHash } from "../../offchain/ml/hash";
import { loadRunnerConfig } from "../../offchain/runner/config";
import { type Runner, startRunner } from "../../offchain/runner/runner";
import { inferBody } from "../../offchain/runner/testing/payingClient";
import {
  deployProtocol,
  devAccount,
  openChannel,
  type Protocol,
  privateKeyOf,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "../../offchain/runner/testing/protocolFixture";
import { createOpenLoRAClient } from "../client";
import { paymentChannelsAbi, settlementAbi } from "../generated/abis";
import { channelLanes } from "./channels";
import type { PaidReceipt } from "./payingFetch";
import { OpenLoRAChannelScheme } from "./x402Scheme";

const SPAM = "offchain/ml/models/spam-filter";
const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-x402-"));
const owner = devAccount(1);
const runnerAccount = devAccount(3);
const consumer = devAccount(4);
let p: Protocol;
let runner: Runner;
let modelId: bigint;
let channelId: bigint;

beforeAll(async () => {
  p = await deployProtocol();
  const deployments = path.join(tmp, "deployment.json");
  writeFileSync(deployments, JSON.stringify(p.deployment));
  const baseModelId = await registerBaseModel(p, USE_LITE_HASH);
  const adapterHash = contentHash(readFileSync(path.join(SPAM, "adapter_model.safetensors")));
  modelId = await registerAdapter(
    p,
    owner,
    { baseModelId, adapterHash, pricePerCall: 1_000n, vaultShareBps: 2_000 },
    [{ account: owner, units: 1n }],
  );
  await registerRunner(p, runnerAccount, "http://127.0.0.1", 500);
  channelId = await openChannel(p, consumer, runnerAccount.address, 1_000_000n);
  const config = loadRunnerConfig({
    env: { OPENLORA_RUNNER_KEY: privateKeyOf(3) },
    flags: {
      rpcUrl: p.anvil.rpcUrl,
      deployments,
      port: 0,
      dataDir: path.join(tmp, "runner"),
      adapters: [SPAM],
      settlement: { intervalMs: 3_600_000, confirmations: 0 },
      chainCacheMs: 60_000,
    },
  });
  runner = await startRunner(config, {}, pino({ level: "silent" }));
});

afterAll(async () => {
  await runner?.stop();
  await p?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A stock x402 fetch paying from the consumer's channel, and the receipts its scheme checked. */
function stockClient() {
  const sdk = createOpenLoRAClient({ rpcUrl: p.anvil.rpcUrl, deployment: p.deployment, account: consumer });
  const receipts: PaidReceipt[] = [];
  const scheme = new OpenLoRAChannelScheme({
    lanes: channelLanes(sdk, channelId),
    onReceipt: (paid) => receipts.push(paid),
  });
  const network = `eip155:${p.anvil.chainId}` as const;
  // The payment asset is no default (USD) asset of x402: allowed by name, with a cap per call.
  const client = new x402Client().register(network, scheme).setSpendControls({
    allowedAssets: [{ network, asset: p.deployment.paymentAsset, maxAmountPerPayment: "5000" }],
  });
  const paidTries: number[] = []; // the status of each request that carried a payment
  const recording: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (input instanceof Request && input.headers.has("payment-signature")) paidTries.push(res.status);
    return res;
  };
  const pay = wrapFetchWithPayment(recording, client);
  const call = async (text: string) => {
    const res = await pay(`${runner.url}/v2/models/${modelId}/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: inferBody(text),
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`call failed: ${res.status} ${Buffer.from(bytes).toString()}`);
    return { bytes, label: JSON.parse(Buffer.from(bytes).toString()).outputs[0].data[0] as string };
  };
  return { call, receipts, paidTries };
}

const settle = async () => {
  const res = await fetch(`${runner.url}/v2/settlement`, { method: "POST" });
  expect(res.status).toBe(200);
};
const lanePaid = () =>
  p.publicClient.readContract({
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "getLane",
    args: [channelId, modelId],
  });
const provenOnChain = async (paid: PaidReceipt) => {
  const res = await fetch(`${runner.url}/v2/receipts/${paid.receipt.requestHash}/proof`);
  if (res.status !== 200) return false;
  const proof = (await res.json()) as { sequence: string; proof: Hex[] };
  return p.publicClient.readContract({
    address: p.deployment.settlement,
    abi: settlementAbi,
    functionName: "verifyReceipt",
    args: [runner.address, BigInt(proof.sequence), paid.receipt, proof.proof],
  });
};

describe("a stock x402 client with the openlora-channel scheme", () => {
  it("pays the runner from the 402's terms alone, one call at a time and concurrently, and its receipts settle", async () => {
    const client = stockClient();
    const { call, receipts } = client;
    const first = await call("Congratulations! You won a FREE iPhone, claim now!!!");
    expect(first.label).toBe("spam");
    // Concurrent calls on one lane: each its own call index, in the lane's order.
    const texts = ["see you at lunch", "WIN cash now", "the report is attached", "cheap pills!!!"];
    const answers = await Promise.all(texts.map(call));
    expect(receipts.map((r) => r.receipt.callIndex).sort()).toEqual([1n, 2n, 3n, 4n, 5n]);
    const outputs = [first, ...answers].map((a) => keccak256(a.bytes)).sort();
    expect(receipts.map((r) => r.receipt.outputHash).sort()).toEqual(outputs);
    expect(receipts.every((r) => r.runner === runner.address && r.price === 1_000n)).toBe(true);
    expect(client.paidTries).toEqual([200, 200, 200, 200, 200]); // none refused: no index signed twice

    await settle();
    expect(await lanePaid()).toMatchObject({ paidAmount: 5_000n, paidCalls: 5n });
    for (const paid of receipts) expect(await provenOnChain(paid)).toBe(true);
  });

  it("resumes from the runner's lane when it lost its own state (a refusal names the lane), and pays", async () => {
    await stockClient().call("one more for the lane");
    const restarted = stockClient(); // a new scheme: no lane state, and the chain has paid 5 of 6
    const answer = await restarted.call("a call after a restart");
    expect(answer.bytes.length).toBeGreaterThan(0);
    expect(restarted.receipts.map((r) => r.receipt.callIndex)).toEqual([7n]);
    expect(restarted.paidTries).toEqual([402, 200]); // call 1 refused as stale, naming the lane at 6
    await settle();
    expect(await lanePaid()).toMatchObject({ paidAmount: 7_000n, paidCalls: 7n });
    expect(await provenOnChain(restarted.receipts[0] as PaidReceipt)).toBe(true);
  });
});

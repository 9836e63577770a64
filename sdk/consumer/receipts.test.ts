/**
 * Receipts end to end on anvil: a consumer pays calls with vouchers, the runner signs receipts,
 * settles a batch (Merkle root + vouchers) itself, and the SDK verifies each receipt's signature
 * and inclusion. The settlement's revenue split is checked against sdk/math/revenueSplit.ts.
 */
import { type Hex, keccak256, parseEventLogs, toBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devnet, startDevnet } from "../../offchain/chain/devnet";
import { createOpenLoRAClient, type OpenLoRAClient, sendTx, withAccount } from "../client";
import { InvalidArgumentError } from "../errors";
import { coTrainingSharesAbi, modelVaultAbi, runnerRegistryAbi, settlementAbi } from "../generated/abis";
import { ensureBaseModel, getUsage, registerModelWithSigners } from "../integrator/models";
import { depositToVault, getVaultState } from "../investor/vaults";
import { effectiveVaultShareBps, splitRevenue } from "../math/revenueSplit";
import { MerkleTree, receiptLeaf } from "../protocol/merkle";
import { type Receipt, receiptTypes, settlementDomain } from "../protocol/typedData";
import { registerRunner } from "../runners";
import { getChannel, getLane, openChannel } from "./channels";
import { ChannelLanes, type SignedCall } from "./lanes";
import {
  inclusionProofFromJson,
  runnerBatches,
  verifyReceiptInclusion,
  verifyReceiptSignature,
} from "./receipts";

let devnet: Devnet;
let runner: OpenLoRAClient;
const key = (i: number) => (devnet.accounts[i] as { privateKey: Hex }).privateKey;
const address = (i: number) => (devnet.accounts[i] as { address: Hex }).address;
const hash = (label: string) => keccak256(toBytes(label));

interface Served {
  receipt: Receipt;
  signature: Hex;
}

const served: Served[] = [];
const models = [
  { adapterHash: hash("adapter-a"), price: 1_000n, vaultShareBps: 3_000, modelId: 0n, vault: "0x" as Hex },
  { adapterHash: hash("adapter-b"), price: 2_500n, vaultShareBps: 0, modelId: 0n, vault: "0x" as Hex },
];
let settledTx: Hex;

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 6 });
  const owner = createOpenLoRAClient({
    rpcUrl: devnet.rpcUrl,
    deployment: devnet.deployment,
    account: key(0),
  });
  runner = withAccount(owner, key(1));
  const consumer = withAccount(owner, key(2));
  await registerRunner(runner, { endpoint: "http://runner.test", feeBps: 1_000 });
  const { baseModelId } = await ensureBaseModel(owner, { contentHash: hash("base"), metadataURI: "" });
  for (const m of models) {
    const registered = await registerModelWithSigners(
      owner,
      {
        adapterHash: m.adapterHash,
        baseModelId,
        pricePerCall: m.price,
        vaultShareBps: m.vaultShareBps,
        metadataURI: "",
        datasetHashes: [],
      },
      [
        { account: address(0), units: 3n },
        { account: address(4), units: 4n },
      ],
      [privateKeyToAccount(key(4))],
    );
    m.modelId = registered.modelId;
    m.vault = registered.vault;
  }
  await depositToVault(withAccount(owner, key(3)), { vault: models[0]?.vault as Hex }, 1_000_000n);

  // The consumer pays 7 calls to model A and 3 to model B; the runner answers each with a signed receipt.
  const { channelId } = await openChannel(consumer, { runner: address(1), amount: 1_000_000n });
  const lanes = new ChannelLanes(
    privateKeyToAccount(key(2)),
    devnet.chainId,
    devnet.deployment.paymentChannels,
    channelId,
  );
  const runnerAccount = privateKeyToAccount(key(1));
  const last = new Map<bigint, SignedCall>();
  for (const [m, calls] of [
    [models[0], 7],
    [models[1], 3],
  ] as const) {
    for (let i = 0; i < calls; i++) {
      const body = JSON.stringify({ text: `call ${i}` });
      const call = await lanes.signNext(m?.modelId as bigint, m?.price as bigint, body);
      last.set(m?.modelId as bigint, call);
      const receipt: Receipt = {
        requestHash: call.requestHash,
        modelId: m?.modelId as bigint,
        adapterHash: m?.adapterHash as Hex,
        outputHash: hash(`answer ${i}`),
        channelId,
        callIndex: call.voucher.cumulativeCalls,
      };
      const signature = await runnerAccount.signTypedData({
        domain: settlementDomain(devnet.chainId, devnet.deployment.settlement),
        types: receiptTypes,
        primaryType: "Receipt",
        message: receipt,
      });
      served.push({ receipt, signature });
    }
  }
  const tree = new MerkleTree(served.map((s) => receiptLeaf(s.receipt)));
  const totals = models.map((m) => ({
    modelId: m.modelId,
    calls: BigInt(served.filter((s) => s.receipt.modelId === m.modelId).length),
    amount: BigInt(served.filter((s) => s.receipt.modelId === m.modelId).length) * m.price,
  }));
  const vouchers = models.map((m) => {
    const call = last.get(m.modelId) as SignedCall;
    return { ...call.voucher, signature: call.signature };
  });
  const { hash: tx } = await sendTx(runner, "Settlement.settle", {
    address: devnet.deployment.settlement,
    abi: settlementAbi,
    functionName: "settle",
    args: [{ receiptsRoot: tree.root, totals, vouchers }],
  });
  settledTx = tx;
});

afterAll(async () => {
  await devnet?.stop();
});

function proofFor(index: number) {
  const tree = new MerkleTree(served.map((s) => receiptLeaf(s.receipt)));
  return {
    runner: address(1),
    sequence: 1n,
    receipt: (served[index] as Served).receipt,
    proof: tree.proof(index),
  };
}

describe("receipts", () => {
  it("verifies every settled receipt's inclusion on-chain and its runner signature", async () => {
    expect(await runnerBatches(runner, address(1))).toEqual({
      batchCount: 1n,
      settledAmount: 7n * 1_000n + 3n * 2_500n,
    });
    for (const [i, s] of served.entries()) {
      const result = await verifyReceiptInclusion(runner, proofFor(i), s.signature);
      expect(result).toMatchObject({ included: true, locallyVerified: true, signatureValid: true });
    }
  });

  it("rejects a tampered receipt, a wrong batch, and a signature by someone else", async () => {
    const p = proofFor(2);
    const tampered = await verifyReceiptInclusion(runner, {
      ...p,
      receipt: { ...p.receipt, outputHash: hash("other") },
    });
    expect(tampered).toMatchObject({ included: false, locallyVerified: false });
    const noBatch = await verifyReceiptInclusion(runner, { ...p, sequence: 2n });
    expect(noBatch).toMatchObject({ included: false, locallyVerified: false, root: `0x${"0".repeat(64)}` });
    const s = served[2] as Served;
    expect(await verifyReceiptSignature(runner, s.receipt, s.signature, address(1))).toBe(true);
    expect(await verifyReceiptSignature(runner, s.receipt, s.signature, address(2))).toBe(false);
    expect(
      await verifyReceiptSignature(runner, { ...s.receipt, callIndex: 99n }, s.signature, address(1)),
    ).toBe(false);
    await expect(verifyReceiptInclusion(runner, { ...p, sequence: 0n })).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it("reads a proof as a runner serves it over HTTP (decimal strings)", async () => {
    const p = proofFor(0);
    const json = JSON.parse(JSON.stringify(p, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
    expect(inclusionProofFromJson(json)).toEqual(p);
    expect(() => inclusionProofFromJson({ ...json, proof: ["0x12"] })).toThrow(/proof\[0\]/);
    expect(() => inclusionProofFromJson({ ...json, runner: undefined })).toThrow(/runner/);
  });
});

describe("revenue split vs Settlement", () => {
  it("splits each model's settled amount exactly as sdk/math/revenueSplit does", async () => {
    const receipt = await runner.publicClient.getTransactionReceipt({ hash: settledTx });
    const events = parseEventLogs({
      abi: settlementAbi,
      logs: receipt.logs,
      eventName: "RevenueDistributed",
    });
    const protocolFeeBps = await runner.publicClient.readContract({
      address: devnet.deployment.settlement,
      abi: settlementAbi,
      functionName: "protocolFeeBps",
    });
    const [, runnerFeeBps] = await runner.publicClient.readContract({
      address: devnet.deployment.runnerRegistry,
      abi: runnerRegistryAbi,
      functionName: "runnerTerms",
      args: [address(1)],
    });
    expect(events).toHaveLength(2);
    for (const m of models) {
      const event = events.find((e) => e.args.modelId === m.modelId);
      const usage = await getUsage(runner, m.modelId);
      // Only model A's vault is backed; model B's takes nothing and its share goes to the holders.
      const { totalSupply } = await getVaultState(runner, { vault: m.vault });
      const parts = splitRevenue(
        usage.totalRevenue,
        BigInt(protocolFeeBps),
        BigInt(runnerFeeBps),
        effectiveVaultShareBps(BigInt(m.vaultShareBps), totalSupply),
      );
      expect(parts.vault === 0n).toBe(m === models[1]);
      expect(event?.args).toMatchObject({
        amount: usage.totalRevenue,
        protocolFee: parts.protocolFee,
        runnerFee: parts.runnerFee,
        vaultAmount: parts.vault,
        holdersAmount: parts.holders,
      });
      const vault = await getVaultState(runner, { vault: m.vault });
      expect(vault.totalRevenue).toBe(parts.vault);
      expect(
        await runner.publicClient.readContract({
          address: devnet.deployment.coTrainingShares,
          abi: coTrainingSharesAbi,
          functionName: "totalCredited",
          args: [m.modelId],
        }),
      ).toBe(parts.holders);
    }
    expect((await getUsage(runner, models[0]?.modelId as bigint)).totalCalls).toBe(7n);
    const channel = await getChannel(runner, 1n);
    expect(channel.paid).toBe(14_500n);
    expect(await getLane(runner, 1n, models[1]?.modelId as bigint)).toEqual({
      paidAmount: 7_500n,
      paidCalls: 3n,
    });
    const vaultA = await runner.publicClient.readContract({
      address: models[0]?.vault as Hex,
      abi: modelVaultAbi,
      functionName: "lockedRevenue",
    });
    expect(vaultA).toBeGreaterThan(0n);
  });
});

/**
 * Receipts end to end on anvil: a consumer pays calls with vouchers, the runner signs receipts,
 * settles a batch (Merkle root + vouchers) itself, and the SDK verifies each receipt's signature
 * and inclusion. The settlement's revenue split is checked against sdk/math/revenueSplit.ts.
 */
import {
  type BaseError,
  ContractFunctionRevertedError,
  type Hex,
  keccak256,
  parseEventLogs,
  toBytes,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creationBytecode } from "../../offchain/chain/artifacts";
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
  checkReceiptSignature,
  inclusionProofFromJson,
  receiptDifferences,
  runnerBatches,
  settledVoucherOf,
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

/** Mutations of a valid 65-byte signature, each a form some library produces or an attacker tries. */
function mutations(signature: Hex): [string, Hex][] {
  const r = signature.slice(2, 66);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16);
  const byte = (n: number) => n.toString(16).padStart(2, "0");
  const word = (n: bigint) => n.toString(16).padStart(64, "0");
  const yParity = BigInt(v - 27) << 255n;
  return [
    ["valid", signature],
    ["v = 0 or 1", `0x${r}${word(s)}${byte(v - 27)}`],
    ["v flipped", `0x${r}${word(s)}${byte(55 - v)}`],
    ["v = 29", `0x${r}${word(s)}${byte(29)}`],
    ["v = 37 (EIP-155 style)", `0x${r}${word(s)}${byte(v + 10)}`],
    ["high s, v flipped", `0x${r}${word(SECP256K1_N - s)}${byte(55 - v)}`],
    ["64-byte EIP-2098", `0x${r}${word(s | yParity)}`],
    ["66 bytes", `${signature}00`],
    ["empty", "0x"],
    ["r = 0", `0x${word(0n)}${word(s)}${byte(v)}`],
    ["s = 0", `0x${r}${word(0n)}${byte(v)}`],
  ];
}

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Whether Settlement's SignatureChecker accepts `signatureB` of `b` for `runner` (reportEquivocation, simulated). */
async function settlementAccepts(
  runnerAddress: Hex,
  a: Served,
  b: Receipt,
  signatureB: Hex,
): Promise<boolean> {
  try {
    await runner.publicClient.simulateContract({
      account: address(3),
      address: devnet.deployment.settlement,
      abi: settlementAbi,
      functionName: "reportEquivocation",
      args: [runnerAddress, a.receipt, a.signature, b, signatureB],
    });
    return true;
  } catch (error) {
    const reverted = (error as BaseError).walk((e) => e instanceof ContractFunctionRevertedError) as
      | ContractFunctionRevertedError
      | undefined;
    // Reverting later (the slash itself) means both signatures passed.
    return reverted?.data?.errorName !== "Settlement_InvalidReceiptSignature";
  }
}

describe("receipt signatures, checked as Settlement's SignatureChecker checks them", () => {
  const signReceipt = (signer: Hex, receipt: Receipt) =>
    privateKeyToAccount(signer).signTypedData({
      domain: settlementDomain(devnet.chainId, devnet.deployment.settlement),
      types: receiptTypes,
      primaryType: "Receipt",
      message: receipt,
    });

  /** Two receipts of one request with different outputs, both signed: what reportEquivocation takes. */
  async function equivocation(signer: Hex) {
    const base = (served[0] as Served).receipt;
    const a = { ...base, outputHash: hash("output a") };
    const b = { ...base, outputHash: hash("output b") };
    return {
      a: { receipt: a, signature: await signReceipt(signer, a) },
      b,
      signatureB: await signReceipt(signer, b),
    };
  }

  it("agrees with the contract on every mutated signature of an EOA runner", async () => {
    const { a, b, signatureB } = await equivocation(key(1));
    const verdicts = [];
    for (const [form, signature] of [
      ...mutations(signatureB),
      ["another signer", await signReceipt(key(4), b)] as [string, Hex],
    ]) {
      const contract = await settlementAccepts(address(1), a, b, signature);
      const check = await checkReceiptSignature(runner, b, signature, address(1));
      verdicts.push({ form, contract, sdk: check.valid });
    }
    expect(verdicts.filter((v) => v.contract !== v.sdk)).toEqual([]);
    expect(verdicts.filter((v) => v.sdk).map((v) => v.form)).toEqual(["valid"]);
  });

  it("asks an ERC-1271 runner contract, and agrees with the contract there too", async () => {
    const owner = privateKeyToAccount(key(5));
    const deployer = runner.walletClient;
    if (!deployer) throw new Error("the runner client has an account");
    const deployHash = await deployer.deployContract({
      abi: walletAbi,
      bytecode: creationBytecode("MockERC1271Wallet"),
      args: [owner.address],
    });
    const wallet = (await runner.publicClient.waitForTransactionReceipt({ hash: deployHash }))
      .contractAddress as Hex;
    const { a, b, signatureB } = await equivocation(key(5));
    const verdicts = [];
    for (const [form, signature] of [
      ...mutations(signatureB),
      ["another signer", await signReceipt(key(4), b)] as [string, Hex],
    ]) {
      const contract = await settlementAccepts(wallet, a, b, signature);
      const check = await checkReceiptSignature(runner, b, signature, wallet);
      verdicts.push({ form, contract, sdk: check.valid });
    }
    expect(verdicts.filter((v) => v.contract !== v.sdk)).toEqual([]);
    expect(verdicts.filter((v) => v.sdk).map((v) => v.form)).toEqual(["valid"]);
    // The wallet's own key is not the runner: its signature recovers to the key, not the wallet.
    expect(await checkReceiptSignature(runner, b, signatureB, owner.address)).toEqual({ valid: true });
    expect(await checkReceiptSignature(runner, b, signatureB, address(1))).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/signed by 0x[0-9a-fA-F]{40}, not by the runner/),
    });
  });

  it("names the fields in which two copies of a receipt differ", () => {
    const mine = (served[0] as Served).receipt;
    expect(receiptDifferences(mine, { ...mine, outputHash: mine.outputHash.toUpperCase() as Hex })).toEqual(
      [],
    );
    expect(receiptDifferences({ ...mine, modelId: 9n, outputHash: hash("x") }, mine)).toEqual([
      { field: "modelId", yours: 9n, theirs: mine.modelId },
      { field: "outputHash", yours: hash("x"), theirs: mine.outputHash },
    ]);
  });

  it("finds the settled voucher that paid for a call", async () => {
    const [a] = models;
    const lane = {
      runner: address(1),
      channelId: (served[0] as Served).receipt.channelId,
      modelId: a?.modelId as bigint,
    };
    expect(await settledVoucherOf(runner, lane, 3n)).toMatchObject({
      firstCall: 1n,
      lastCall: 7n,
      amount: 7_000n,
      cumulativeAmount: 7_000n,
    });
    expect(await settledVoucherOf(runner, lane, 8n)).toBeNull();
  });
});

const walletAbi = [
  {
    type: "constructor",
    stateMutability: "nonpayable",
    inputs: [{ name: "owner_", type: "address" }],
  },
] as const;

describe("revenue split vs Settlement", () => {
  it("splits each model's settled amount exactly as sdk/math/revenueSplit does", async () => {
    // Settling leaves each model's net pending; a flush splits it between vault and holders.
    const receipt = await runner.publicClient.getTransactionReceipt({ hash: settledTx });
    const pending = parseEventLogs({ abi: settlementAbi, logs: receipt.logs, eventName: "RevenuePending" });
    // Before the flush the registry has nothing; the SDK's usage counts what is pending.
    for (const e of pending) {
      expect(await getUsage(runner, e.args.modelId)).toMatchObject({
        totalCalls: e.args.calls,
        totalRevenue: e.args.amount,
      });
    }
    const { hash: flushTx } = await sendTx(runner, "Settlement.flushMany", {
      address: devnet.deployment.settlement,
      abi: settlementAbi,
      functionName: "flushMany",
      args: [models.map((m) => m.modelId)],
    });
    const flushed = await runner.publicClient.getTransactionReceipt({ hash: flushTx });
    const events = parseEventLogs({ abi: settlementAbi, logs: flushed.logs, eventName: "RevenueFlushed" });
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
      expect(pending.find((e) => e.args.modelId === m.modelId)?.args).toMatchObject({
        amount: usage.totalRevenue,
        net: usage.totalRevenue - parts.protocolFee - parts.runnerFee,
      });
      expect(event?.args).toMatchObject({
        amount: usage.totalRevenue,
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

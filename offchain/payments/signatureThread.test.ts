import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, describe, expect, it } from "vitest";
import { receiptLeaf } from "../../sdk/protocol/merkle";
import {
  paymentChannelsDomain,
  type Receipt,
  type Voucher,
  voucherTypes,
} from "../../sdk/protocol/typedData";
import { SignatureError } from "./nativeEip712";
import { ReceiptSigner } from "./receiptSigner";
import { SignatureThread, SignatureThreadError } from "./signatureThread";

const CHANNELS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const SETTLEMENT = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const runnerKey = generatePrivateKey();
const consumer = privateKeyToAccount(generatePrivateKey());

const voucher = (calls: bigint): Voucher => ({
  channelId: 3n,
  modelId: 2n,
  cumulativeAmount: calls * 100n,
  cumulativeCalls: calls,
  transcriptHash: keccak256(toHex(`transcript ${calls}`)),
});
const receipt = (index: bigint): Receipt => ({
  requestHash: keccak256(toHex(`request ${index}`)),
  modelId: 2n,
  adapterHash: keccak256(toHex("adapter")),
  outputHash: keccak256(toHex(`output ${index}`)),
  channelId: 3n,
  callIndex: index,
});
const signVoucher = (v: Voucher) =>
  consumer.signTypedData({
    domain: paymentChannelsDomain(31337, CHANNELS),
    types: voucherTypes,
    primaryType: "Voucher",
    message: v,
  });

describe("SignatureThread", () => {
  const thread = new SignatureThread({
    chainId: 31337,
    paymentChannels: CHANNELS,
    settlement: SETTLEMENT,
    privateKey: runnerKey,
  });
  afterAll(() => thread.close());

  it("answers a large batch in parts: its first calls go on before the worker reaches its last", async () => {
    const receipts = Array.from({ length: 200 }, (_, i) => receipt(BigInt(i + 1))); // ~10 ms of signing
    let lastDone = false;
    const answers = receipts.map((r) => thread.signReceipt(r)); // one turn: one batch
    void (answers.at(-1) as Promise<unknown>).then(() => {
      lastDone = true;
    });
    await answers[0];
    await new Promise((resolve) => setImmediate(resolve)); // whatever came with the first answer is settled
    expect(lastDone).toBe(false);
    const onThisThread = new ReceiptSigner(31337, SETTLEMENT, runnerKey);
    expect((await Promise.all(answers)).map((a) => a.signature)).toEqual(
      receipts.map((r) => onThisThread.sign(r)),
    );
    expect(lastDone).toBe(true);
  });

  it("recovers voucher signers and signs receipts as the in-thread classes do, in order", async () => {
    const onThisThread = new ReceiptSigner(31337, SETTLEMENT, runnerKey);
    expect(thread.address).toBe(onThisThread.address);
    const vouchers = [1n, 2n, 3n].map(voucher);
    const signatures = await Promise.all(vouchers.map(signVoucher));
    // Jobs queued in the same turn travel as one batch; each gets its own answer.
    const [signers, receiptSignatures] = await Promise.all([
      Promise.all(vouchers.map((v, i) => thread.recoverSigner(v, signatures[i] as `0x${string}`))),
      Promise.all([1n, 2n, 3n].map((i) => thread.signReceipt(receipt(i)))),
    ]);
    expect(signers).toEqual([consumer.address, consumer.address, consumer.address]);
    // Each receipt's signature, and its Merkle leaf as the SDK computes it.
    expect(receiptSignatures).toEqual(
      [1n, 2n, 3n].map((i) => ({ signature: onThisThread.sign(receipt(i)), leaf: receiptLeaf(receipt(i)) })),
    );
  });

  it("answers a malformed signature with a SignatureError and keeps serving the batch", async () => {
    const good = voucher(4n);
    const results = await Promise.allSettled([
      thread.recoverSigner(good, `0x${"ab".repeat(64)}`),
      thread.recoverSigner(good, "0x1234"),
      thread.recoverSigner(good, await signVoucher(good)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(SignatureError);
    expect((results[1] as PromiseRejectedResult).reason.message).toMatch(/65 bytes/);
  });

  it("fails the vouchers a dead worker held, signs its receipts here, then serves on a new one", async () => {
    const signed = await signVoucher(voucher(6n));
    const pendingVoucher = thread.recoverSigner(voucher(6n), signed);
    const pendingReceipt = thread.signReceipt(receipt(9n));
    // Kill the worker while the jobs are in flight, as a crash would.
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(pendingVoucher).rejects.toBeInstanceOf(SignatureThreadError);
    // The receipt may already be journaled: it is signed on this thread, as the worker would have.
    expect(await pendingReceipt).toEqual({
      signature: new ReceiptSigner(31337, SETTLEMENT, runnerKey).sign(receipt(9n)),
      leaf: receiptLeaf(receipt(9n)),
    });
    expect(await thread.recoverSigner(voucher(5n), await signVoucher(voucher(5n)))).toBe(consumer.address);
  });
});

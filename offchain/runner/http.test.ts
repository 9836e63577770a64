// The runner's HTTP API with real payments (signed vouchers, native verification, signed
// receipts), a real onnxruntime session and a real journal. Channel state comes from a fixed
// snapshot here; the anvil tests read it from the PaymentChannels contract.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Worker } from "node:worker_threads";
import pino from "pino";
import { type Address, type Hex, keccak256, recoverTypedDataAddress, toBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelLanes } from "../../sdk/consumer/lanes";
import { createPayingFetch, type PaidReceipt, PaymentClientError } from "../../sdk/consumer/payingFetch";
import { receiptTypes, requestHash, settlementDomain } from "../../sdk/protocol/typedData";
import {
  decodePaymentRequired,
  decodePaymentResponse,
  encodeHeader,
  HEADERS,
  type PaymentTerms,
  paymentPayload,
} from "../../sdk/protocol/x402";
import type { LoraAdapter } from "../ml/adapter/adapter";
import { encodeAdapter } from "../ml/adapter/adapterFile";
import { landeBaseModel } from "../ml/base/baseModel";
import { Rng } from "../ml/random";
import { type ChannelSnapshot, PaymentGate } from "../payments/paymentGate";
import { ReceiptSigner } from "../payments/receiptSigner";
import { VoucherVerifier } from "../payments/voucherVerifier";
import { AdapterCache, landeSlots } from "./adapterCache";
import { AdapterStore } from "./adapterStore";
import { AnsweredCalls } from "./answeredCalls";
import type { ServedModel } from "./catalog";
import { ChainUnavailableError } from "./chain";
import { MultiAdapterExecutor } from "./executor/multiAdapterExecutor";
import { UseLiteThread } from "./executor/useLiteThread";
import { type RunnerHttpContext, RunnerHttpServer } from "./http";
import { type Classification, InferenceService, landeBackend } from "./inference";
import { Journal, readJournal } from "./journal";
import { RunnerMetrics } from "./metrics";
import { MAX_REDELIVERIES } from "./paidCall";
import type { CallRecord } from "./settlement/batchPlan";
import { peftAdapterBytes } from "./testing/peftAdapters";
import { randomAdapter } from "./testing/randomAdapter";
import { chunked, head, rawRequest } from "./testing/rawHttp";
import { mountSmallFilesystem } from "./testing/smallFilesystem";

const CHAIN_ID = 31337;
const CHANNELS: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const SETTLEMENT: Address = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const ASSET: Address = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-http-"));
const base = landeBaseModel();
const consumer = privateKeyToAccount(generatePrivateKey());
const runnerKey = generatePrivateKey();

const adapter = (labels: string[], seed: number): LoraAdapter =>
  randomAdapter(new Rng(seed), base, {
    rank: 2,
    labels,
    scale: 1,
    factorStd: 0.1,
    headStd: 0.1,
    biasStd: 0.1,
  });

let server: RunnerHttpServer;
/** The server's context: a test may swap its journal for one on a full disk. */
let ctx: RunnerHttpContext;
let url: string;
let journal: Journal;
let executor: MultiAdapterExecutor;
const models = new Map<bigint, ServedModel>();
let channel: ChannelSnapshot;
/** While true, the chain answers no lane reads (channels stay cached). */
let chainDown = false;

beforeAll(async () => {
  const store = new AdapterStore(path.join(dir, "adapters"));
  const spam = store.put(encodeAdapter(adapter(["spam", "ham"], 1), base));
  const sentiment = store.put(encodeAdapter(adapter(["positive", "negative", "neutral"], 2), base));
  models.set(1n, { modelId: 1n, adapterHash: spam, pricePerCall: 1_000n, status: "active", metadataURI: "" });
  models.set(2n, {
    modelId: 2n,
    adapterHash: sentiment,
    pricePerCall: 2_500n,
    status: "active",
    metadataURI: "",
  });
  models.set(3n, {
    modelId: 3n,
    adapterHash: `0x${"77".repeat(32)}`,
    pricePerCall: 1n,
    status: "active",
    metadataURI: "",
  });
  models.set(4n, { modelId: 4n, adapterHash: spam, pricePerCall: 1n, status: "paused", metadataURI: "" });
  const signer = new ReceiptSigner(CHAIN_ID, SETTLEMENT, runnerKey);
  channel = {
    channelId: 1n,
    consumer: consumer.address,
    runner: signer.address,
    signers: [consumer.address],
    deposited: 20_000n,
    closing: false,
  };
  executor = await MultiAdapterExecutor.create(base, { slots: 4, maxRank: 4, maxClasses: 4 });
  const metrics = new RunnerMetrics();
  const inference = new InferenceService(
    landeBackend(base, executor),
    new AdapterCache(landeSlots(base, executor.arena), store),
    { maxBatch: 8, maxWaitMs: 2, maxQueue: 64 },
    metrics,
  );
  journal = (await Journal.open(path.join(dir, "receipts.journal"))).journal;
  const gate = new PaymentGate(new VoucherVerifier(CHAIN_ID, CHANNELS), signer.address, {
    channel: async (id) => (id === channel.channelId ? channel : null),
    settledLane: async (channelId, modelId) => {
      if (chainDown)
        throw new ChainUnavailableError(`lane ${channelId}:${modelId}`, new Error("fetch failed"));
      return { paidAmount: 0n, paidCalls: 0n }; // nothing settled yet
    },
  });
  ctx = {
    answered: new AnsweredCalls(),
    chainId: CHAIN_ID,
    paymentChannels: CHANNELS,
    settlement: SETTLEMENT,
    paymentAsset: ASSET,
    gate,
    signer,
    inference,
    journal,
    catalog: { model: async (id) => models.get(id) ?? null, models: async () => [...models.values()] },
    metrics,
    log: pino({ level: "silent" }),
    ready: () => true,
  };
  server = new RunnerHttpServer(ctx, { maxBodyBytes: 4096 });
  url = await server.listen();
});

afterAll(async () => {
  await server?.close();
  await journal?.close();
  await executor?.release();
  rmSync(dir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies under test, asserted field by field
const json = (res: Response): Promise<any> => res.json();

const inferBody = (text: string) =>
  JSON.stringify({ inputs: [{ name: "text", datatype: "BYTES", shape: [1], data: [text] }] });

function client(onReceipt?: (paid: PaidReceipt) => void, key = consumer) {
  const lanes = new ChannelLanes(key, CHAIN_ID, CHANNELS, channel.channelId);
  return createPayingFetch({ lanes, ...(onReceipt ? { onReceipt } : {}) });
}

describe("runner HTTP API", () => {
  it("answers an unpaid call with 402 and the terms", async () => {
    const res = await fetch(`${url}/v2/models/1/infer`, { method: "POST", body: inferBody("hello") });
    expect(res.status).toBe(402);
    const required = decodePaymentRequired(res.headers.get(HEADERS.required));
    expect(required.accepts[0]).toMatchObject({
      scheme: "openlora-channel",
      network: "eip155:31337",
      amount: 1_000n,
      payTo: channel.runner,
      extra: { paymentChannels: CHANNELS, settlement: SETTLEMENT, modelId: 1n },
    });
    // What a client signs for this body, whichever call index it takes: a stock x402 client
    // sends no channel header, and is offered no lane (it keeps its own).
    expect(required.accepts[0]?.extra.bodyHash).toBe(keccak256(toBytes(inferBody("hello"))));
    expect(required.accepts[0]?.extra.lane).toBeUndefined();
  });

  it("serves paid calls across models, with receipts journaled before the answer", async () => {
    const receipts: PaidReceipt[] = [];
    const pay = client((paid) => receipts.push(paid));
    const first = await pay(`${url}/v2/models/1/infer`, {
      method: "POST",
      body: inferBody("WIN a FREE cruise, click now"),
    });
    expect(first.status).toBe(200);
    const answer = await json(first);
    expect(answer.outputs[0].name).toBe("label");
    expect(["spam", "ham"]).toContain(answer.outputs[0].data[0]);
    expect(answer.outputs[1].data).toHaveLength(2);
    const second = await pay(`${url}/v2/models/2/infer`, {
      method: "POST",
      body: inferBody("BTC to the moon"),
    });
    expect((await json(second)).parameters.labels).toEqual(["positive", "negative", "neutral"]);
    const third = await pay(`${url}/v2/models/1/infer`, {
      method: "POST",
      body: inferBody("lunch at noon?"),
    });
    expect(third.status).toBe(200);

    expect(receipts.map((r) => [r.receipt.modelId, r.receipt.callIndex, r.price])).toEqual([
      [1n, 1n, 1_000n],
      [2n, 1n, 2_500n],
      [1n, 2n, 1_000n],
    ]);
    const journaled = readJournal(
      await import("node:fs").then((fs) => fs.readFileSync(path.join(dir, "receipts.journal"))),
    ).records.filter((r) => r.type === "call");
    expect(journaled.map((r) => (r.receipt as { callIndex: bigint }).callIndex)).toEqual([1n, 1n, 2n]);
  });

  it("makes the paying fetch refuse a receipt whose signature Settlement would refuse (v of 0/1)", async () => {
    // A runner signing receipts in a form Settlement refuses could never be slashed for them.
    const lowV: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const header = res.headers.get(HEADERS.response);
      if (res.status !== 200 || !header) return res;
      const paid = decodePaymentResponse(header);
      const signature = paid.extra?.receiptSignature as string;
      const v = Number.parseInt(signature.slice(-2), 16) - 27;
      const headers = new Headers(res.headers);
      const edited = {
        ...paid,
        extra: { ...paid.extra, receiptSignature: `${signature.slice(0, -2)}0${v}` },
      };
      headers.set(HEADERS.response, encodeHeader(edited));
      return new Response(await res.arrayBuffer(), { status: res.status, headers });
    };
    const lanes = new ChannelLanes(consumer, CHAIN_ID, CHANNELS, channel.channelId);
    const pay = createPayingFetch({ lanes, fetch: lowV, onReceipt: () => {} }); // receipts are checked for onReceipt
    await expect(
      pay(`${url}/v2/models/2/infer`, { method: "POST", body: inferBody("sign it right") }),
    ).rejects.toThrow(/signature is not one Settlement accepts: its v is [01], not 27 or 28/);
  });

  it("refuses a replay of a voucher older than its lane's latest with 402 voucher_stale and serves nothing", async () => {
    const captured: string[] = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      const header = new Headers(init?.headers).get(HEADERS.signature);
      if (header) captured.push(header);
      return fetch(input, init);
    };
    const lanes = new ChannelLanes(consumer, CHAIN_ID, CHANNELS, channel.channelId);
    const pay = createPayingFetch({ lanes, fetch: recordingFetch });
    const body = inferBody("replay me");
    expect((await pay(`${url}/v2/models/2/infer`, { method: "POST", body })).status).toBe(200);
    const replayed = captured.at(-1) as string;
    expect((await pay(`${url}/v2/models/2/infer`, { method: "POST", body })).status).toBe(200);
    const replay = await fetch(`${url}/v2/models/2/infer`, {
      method: "POST",
      body,
      headers: { [HEADERS.signature]: replayed },
    });
    expect(replay.status).toBe(402);
    const refusal = decodePaymentResponse(replay.headers.get(HEADERS.response));
    expect(refusal.errorReason).toBe("voucher_stale");
    expect((await json(replay)).reason).toBe("voucher_stale");
    // No payer rather than an empty one; the lane to resume from, named by the voucher alone.
    expect(refusal).toMatchObject({ success: false, transaction: "" });
    expect("payer" in refusal).toBe(false);
    const lane = lanes.cursor(2n);
    expect(refusal.extra?.lane).toMatchObject({
      channelId: channel.channelId,
      cumulativeCalls: lane.cumulativeCalls,
      transcriptHash: lane.transcriptHash,
      nextRequestHash: requestHash(channel.channelId, 2n, lane.cumulativeCalls + 1n, body),
    });
  });

  it("offers a request naming its channel the lane's state and this body's request hash at the next call", async () => {
    const body = inferBody("which call is this?");
    const probe = () =>
      fetch(`${url}/v2/models/2/infer`, {
        method: "POST",
        body,
        headers: { [HEADERS.channel]: channel.channelId.toString() },
      });
    const before = decodePaymentRequired((await probe()).headers.get(HEADERS.required)).accepts[0];
    const lane = before?.extra.lane as NonNullable<PaymentTerms["extra"]["lane"]>;
    expect(lane.channelId).toBe(channel.channelId);
    const next = lane.cumulativeCalls + 1n;
    expect(lane.nextRequestHash).toBe(requestHash(channel.channelId, 2n, next, body));
    await client()(`${url}/v2/models/2/infer`, { method: "POST", body: inferBody("one more call") });
    const after = decodePaymentRequired((await probe()).headers.get(HEADERS.required)).accepts[0];
    expect(after?.extra.lane?.cumulativeCalls).toBe(next);
    expect(after?.extra.lane?.nextRequestHash).toBe(requestHash(channel.channelId, 2n, next + 1n, body));
  });

  it("answers a paid call with x402's PAYMENT-RESPONSE: no transaction yet, the receipt under extra", async () => {
    let header: string | null = null;
    const recording: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      header = res.headers.get(HEADERS.response) ?? header;
      return res;
    };
    const lanes = new ChannelLanes(consumer, CHAIN_ID, CHANNELS, channel.channelId);
    const paid = await createPayingFetch({ lanes, fetch: recording })(`${url}/v2/models/1/infer`, {
      method: "POST",
      body: inferBody("a receipt please"),
    });
    expect(paid.status).toBe(200);
    const wire = JSON.parse(Buffer.from(header as unknown as string, "base64").toString("utf8"));
    expect(Object.keys(wire).sort()).toEqual(["extra", "network", "payer", "success", "transaction"]);
    expect(wire).toMatchObject({ success: true, transaction: "", payer: consumer.address });
    expect(wire.extra).toMatchObject({ settlement: "deferred", runner: channel.runner });
    expect(wire.extra.receipt.channelId).toBe(channel.channelId.toString());
  });

  it("answers 503 for a new lane while the chain cannot be read, charging nothing", async () => {
    const known = channel;
    channel = { ...channel, channelId: 8n }; // a channel whose lanes this runner has not seen
    const pay = client();
    try {
      chainDown = true;
      const down = await pay(`${url}/v2/models/1/infer`, { method: "POST", body: inferBody("hello") });
      expect([down.status, (await json(down)).reason]).toEqual([503, "chain_unavailable"]);
      chainDown = false;
      const up = await pay(`${url}/v2/models/1/infer`, { method: "POST", body: inferBody("hello") });
      expect(up.status).toBe(200);
      expect(decodePaymentResponse(up.headers.get(HEADERS.response)).extra?.receipt?.callIndex).toBe(1n);
    } finally {
      chainDown = false;
      channel = known;
    }
  });

  it("answers 503 journal_unavailable on a full disk, charging nothing, and serves once space is back", async (test) => {
    const disk = mountSmallFilesystem(path.join(dir, "small-disk"), 64 * 1024);
    if ("unavailable" in disk) return test.skip(disk.unavailable);
    const served = ctx.journal;
    const known = channel;
    const { journal: onSmallDisk } = await Journal.open(path.join(disk.dir, "receipts.journal"));
    try {
      ctx.journal = onSmallDisk;
      channel = { ...channel, channelId: 9n, deposited: 10n ** 9n }; // a lane of its own, enough for every call
      const receipts: PaidReceipt[] = [];
      const pay = client((paid) => receipts.push(paid));
      const call = () => pay(`${url}/v2/models/1/infer`, { method: "POST", body: inferBody("disk check") });
      expect((await call()).status).toBe(200);

      // A full disk still takes appends into the journal's last, partly used block: calls are
      // answered until the block is full too, then refused.
      disk.fill();
      let full = await call();
      for (let i = 0; full.status === 200 && i < 64; i++) full = await call();
      expect([full.status, (await json(full)).reason]).toEqual([503, "journal_unavailable"]);
      const answered = receipts.length;
      const last = receipts[answered - 1]?.receipt.callIndex as bigint;
      expect(ctx.gate.lane(channel.channelId, 1n).cumulativeCalls).toBe(last); // the voucher was not kept

      disk.free();
      const after = await call(); // the client signed past the refused call: it resyncs from the 402
      expect(after.status).toBe(200);
      expect(receipts.map((r) => r.receipt.callIndex).slice(answered)).toEqual([last + 1n]);
      expect(receipts[answered]?.price).toBe(1_000n);
      // The journal holds exactly the answered calls: the refused one left nothing behind.
      const { records, validLength } = readJournal(readFileSync(onSmallDisk.path));
      expect(records.map((r) => (r.receipt as { callIndex: bigint }).callIndex)).toEqual(
        receipts.map((r) => r.receipt.callIndex),
      );
      expect(validLength).toBe(readFileSync(onSmallDisk.path).length);
    } finally {
      ctx.journal = served;
      channel = known;
      await onSmallDisk.close();
      disk.unmount();
    }
  });

  it("answers 503 busy when the inference thread dies with the call's batch in it, charging nothing", async () => {
    const thread = await UseLiteThread.create({ slots: 2, maxRank: 8, maxClasses: 4 });
    const store = new AdapterStore(path.join(dir, "use-lite-adapters"));
    const adapterHash = store.put(peftAdapterBytes({ seed: 7, labels: ["ham", "spam"] }).bytes);
    models.set(6n, { modelId: 6n, adapterHash, pricePerCall: 1_000n, status: "active", metadataURI: "" });
    const served = ctx.inference;
    const known = channel;
    try {
      ctx.inference = new InferenceService(thread, new AdapterCache(thread, store), {
        maxBatch: 8,
        maxWaitMs: 2,
        maxQueue: 64,
      });
      channel = { ...channel, channelId: 10n, deposited: 10n ** 9n }; // a lane of its own
      const receipts: PaidReceipt[] = [];
      const pay = client((paid) => receipts.push(paid));
      const call = () => pay(`${url}/v2/models/6/infer`, { method: "POST", body: inferBody("still there?") });
      // Ended while idle, then again just after the batch is posted, while the new thread starts:
      // one ended inside session.run would take this process with it (see useLiteThread.ts).
      const idle = thread.worker as Worker;
      await Promise.all([new Promise((resolve) => idle.once("exit", resolve)), idle.terminate()]);
      const run = thread.run.bind(thread);
      thread.run = (rows) => {
        const answers = run(rows);
        void thread.worker?.terminate();
        thread.run = run;
        return answers;
      };
      const failed = await call();
      expect([failed.status, (await json(failed)).reason, failed.headers.get("retry-after")]).toEqual([
        503,
        "busy",
        "1",
      ]);
      expect(ctx.gate.lane(channel.channelId, 6n).cumulativeCalls).toBe(0n); // the voucher was not kept
      const retried = await call(); // a new thread, with the adapter written again
      expect(retried.status).toBe(200);
      expect((await json(retried)).parameters.labels).toEqual(["ham", "spam"]);
      expect(receipts.map((r) => r.price)).toEqual([1_000n]);
    } finally {
      ctx.inference = served;
      channel = known;
      models.delete(6n);
      await thread.release();
    }
  });

  it("refuses a voucher from another signer and one over the channel balance", async () => {
    const stranger = privateKeyToAccount(generatePrivateKey());
    await expect(
      client(undefined, stranger)(`${url}/v2/models/1/infer`, { method: "POST", body: inferBody("hi") }),
    ).rejects.toThrow(/voucher_wrong_signer/);
    const deposited = channel.deposited;
    channel = { ...channel, deposited: 0n };
    await expect(
      client()(`${url}/v2/models/1/infer`, { method: "POST", body: inferBody("hi") }),
    ).rejects.toThrow(PaymentClientError);
    channel = { ...channel, deposited };
  });

  it("answers bad input with a clear 4xx and unavailable models with 503", async () => {
    const post = (model: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${url}/v2/models/${model}/infer`, { method: "POST", body, headers });
    const malformed = await post("1", "{not json");
    expect([malformed.status, (await json(malformed)).reason]).toEqual([400, "malformed_json"]);
    const wrongShape = await post("1", JSON.stringify({ inputs: [{ name: "text", data: ["x"] }] }));
    expect(wrongShape.status).toBe(400);
    expect((await json(wrongShape)).error).toMatch(/invalid inference request/);
    const huge = await post("1", inferBody("x".repeat(5000)));
    expect(huge.status).toBe(413);
    const unknown = await post("99", inferBody("hi"));
    expect([unknown.status, (await json(unknown)).reason]).toEqual([404, "unknown_model"]);
    const badHeader = await post("1", inferBody("hi"), {
      [HEADERS.signature]: encodeHeader({ x402Version: 2 }),
    });
    expect([badHeader.status, (await json(badHeader)).reason]).toEqual([400, "payment_malformed"]);
    const paused = await post("4", inferBody("hi"));
    expect([paused.status, (await json(paused)).reason]).toEqual([503, "model_unavailable"]);
  });

  it("refuses a model whose adapter fails its hash check and keeps serving the others", async () => {
    const pay = client();
    const broken = await pay(`${url}/v2/models/3/infer`, { method: "POST", body: inferBody("hi") });
    expect(broken.status).toBe(503);
    expect((await json(broken)).error).toMatch(/model 3 is refused/);
    const ok = await pay(`${url}/v2/models/1/infer`, { method: "POST", body: inferBody("still serving") });
    expect(ok.status).toBe(200);
    const ready = await fetch(`${url}/v2/models/3/ready`);
    expect(ready.status).toBe(503);
  });

  it("serves model metadata, the OpenAPI document and Prometheus metrics", async () => {
    const meta = await json(await fetch(`${url}/v2/models/2`));
    expect(meta).toMatchObject({
      name: "2",
      versions: [models.get(2n)?.adapterHash],
      platform: "onnxruntime",
    });
    const openapi = await json(await fetch(`${url}/openapi.json`));
    expect(Object.keys(openapi.paths)).toContain("/v2/models/{modelId}/infer");
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/openlora_requests_total\{model="1",outcome="paid"\} [1-9]/);
    expect(metrics).toMatch(/openlora_vouchers_total\{model="2",result="voucher_stale"\} 1/);
  });
});

/** The journaled calls of a lane, in journal order. */
function journaledCalls(channelId: bigint, modelId: bigint): CallRecord[] {
  return readJournal(readFileSync(journal.path))
    .records.filter((r) => r.type === "call")
    .map((r) => r as unknown as CallRecord)
    .filter((r) => r.receipt.channelId === channelId && r.receipt.modelId === modelId);
}

async function until<T>(read: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A signed payment for the next call of a consumer's own lane, as its PAYMENT-SIGNATURE header. */
async function signedPayment(lanes: ChannelLanes, modelId: bigint, body: string): Promise<string> {
  const probe = await fetch(`${url}/v2/models/${modelId}/infer`, { method: "POST", body });
  const terms = decodePaymentRequired(probe.headers.get(HEADERS.required)).accepts[0] as PaymentTerms;
  const call = await lanes.signNext(modelId, terms.amount, body);
  return encodeHeader(paymentPayload(terms, call.voucher, call.requestHash, call.signature));
}

/** Sends a paid request whole and hangs up before the answer, as a dropped connection does. */
const sendAndHangUp = (modelId: bigint, body: string, payment: string) =>
  rawRequest(url, {
    parts: [
      head(`POST /v2/models/${modelId}/infer HTTP/1.1`, {
        host: "runner",
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        [HEADERS.signature]: payment,
      }),
      body,
    ],
    abandon: true,
  });

describe("a paid call whose answer was lost", () => {
  it("is answered again for the same request and voucher, with the journaled receipt, and charged once", async () => {
    const known = channel;
    channel = { ...channel, channelId: 11n };
    try {
      const lanes = new ChannelLanes(consumer, CHAIN_ID, CHANNELS, 11n);
      const body = inferBody("the answer to this one is lost on the way");
      const payment = await signedPayment(lanes, 1n, body);
      await sendAndHangUp(1n, body, payment);
      const [journaled] = await until(() => {
        const calls = journaledCalls(11n, 1n);
        return calls.length > 0 ? calls : undefined;
      }, "the call to be journaled");
      const receipt = (journaled as CallRecord).receipt;
      const resend = () =>
        fetch(`${url}/v2/models/1/infer`, {
          method: "POST",
          body,
          headers: { [HEADERS.signature]: payment },
        });

      for (let i = 0; i < MAX_REDELIVERIES; i++) {
        const again = await resend();
        expect(again.status).toBe(200);
        const bytes = new Uint8Array(await again.arrayBuffer());
        expect(keccak256(bytes)).toBe(receipt.outputHash);
        const paid = decodePaymentResponse(again.headers.get(HEADERS.response));
        expect(paid.extra?.receipt).toEqual(receipt);
        expect(
          await recoverTypedDataAddress({
            domain: settlementDomain(CHAIN_ID, SETTLEMENT),
            types: receiptTypes,
            primaryType: "Receipt",
            message: receipt,
            signature: paid.extra?.receiptSignature as Hex,
          }),
        ).toBe(channel.runner);
      }
      // Answered again a bounded number of times: each costs an inference nobody pays for.
      const refused = await resend();
      expect([refused.status, (await json(refused)).reason]).toEqual([402, "voucher_stale"]);
      // Charged once: one journaled call, and the lane where the one voucher left it.
      expect(journaledCalls(11n, 1n)).toHaveLength(1);
      expect(ctx.gate.lane(11n, 1n)).toMatchObject({ cumulativeCalls: 1n, cumulativeAmount: 1_000n });
      // The lane goes on from there.
      const next = await fetch(`${url}/v2/models/1/infer`, {
        method: "POST",
        body: inferBody("next"),
        headers: { [HEADERS.signature]: await signedPayment(lanes, 1n, inferBody("next")) },
      });
      expect(next.status).toBe(200);
      expect(journaledCalls(11n, 1n).map((c) => c.receipt.callIndex)).toEqual([1n, 2n]);
    } finally {
      channel = known;
    }
  });

  it("answers 409 answer_not_reproducible, not a 5xx, when the answer comes out different the second time", async () => {
    const known = channel;
    const inference = ctx.inference;
    channel = { ...channel, channelId: 12n };
    try {
      const lanes = new ChannelLanes(consumer, CHAIN_ID, CHANNELS, 12n);
      const body = inferBody("answered, lost, and computed again after an upgrade");
      const payment = await signedPayment(lanes, 1n, body);
      await sendAndHangUp(1n, body, payment);
      await until(() => (journaledCalls(12n, 1n).length > 0 ? true : undefined), "the call to be journaled");
      // The runner's numerics changed since (another kernel, another machine): the last bits move.
      const changed = Object.create(inference) as typeof inference;
      changed.infer = async (...args) => {
        const result = (await inference.infer(...args)) as Classification;
        return { ...result, scores: result.scores.map((score) => score + 1e-6) };
      };
      ctx.inference = changed;
      const again = await fetch(`${url}/v2/models/1/infer`, {
        method: "POST",
        body,
        headers: { [HEADERS.signature]: payment },
      });
      const answer = await json(again);
      expect([again.status, answer.reason]).toEqual([409, "answer_not_reproducible"]);
      expect(answer.details.journaledOutputHash).toBe(journaledCalls(12n, 1n)[0]?.receipt.outputHash);
      expect(journaledCalls(12n, 1n)).toHaveLength(1);
    } finally {
      ctx.inference = inference;
      channel = known;
    }
  });

  it("is fetched again by the SDK's paying fetch with the same voucher when the connection drops", async () => {
    const known = channel;
    channel = { ...channel, channelId: 13n };
    try {
      const sent: string[] = [];
      let drops = 1;
      // The runner gets the request and answers it; the answer is lost on the way back.
      const droppingFetch: typeof fetch = async (input, init) => {
        const payment = new Headers(init?.headers).get(HEADERS.signature);
        const response = await fetch(input, init);
        if (!payment) return response;
        sent.push(payment);
        if (drops-- > 0) {
          await response.arrayBuffer();
          throw new TypeError("fetch failed", {
            cause: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
          });
        }
        return response;
      };
      const receipts: PaidReceipt[] = [];
      const lanes = new ChannelLanes(consumer, CHAIN_ID, CHANNELS, 13n);
      const pay = createPayingFetch({
        lanes,
        fetch: droppingFetch,
        onReceipt: (paid) => receipts.push(paid),
      });
      const answer = await pay(`${url}/v2/models/1/infer`, { method: "POST", body: inferBody("resend me") });
      expect(answer.status).toBe(200);
      expect(sent).toHaveLength(2);
      expect(sent[1]).toBe(sent[0]); // the same voucher, not a new one
      expect(receipts.map((r) => r.receipt.callIndex)).toEqual([1n]);
      expect(ctx.gate.lane(13n, 1n)).toMatchObject({ cumulativeCalls: 1n, cumulativeAmount: 1_000n });
      // And the next call is the lane's second, paid once.
      expect(
        (await pay(`${url}/v2/models/1/infer`, { method: "POST", body: inferBody("next") })).status,
      ).toBe(200);
      expect(receipts.map((r) => r.receipt.callIndex)).toEqual([1n, 2n]);
      expect(journaledCalls(13n, 1n).map((c) => c.receipt.callIndex)).toEqual([1n, 2n]);
    } finally {
      channel = known;
    }
  });
});

describe("runner HTTP API under hostile input", () => {
  it("answers a request target that is no URL (`GET //x:99999/`) with a 404, not a 500", async () => {
    const answer = await rawRequest(url, {
      parts: [head("GET //x:99999/ HTTP/1.1", { host: "runner", connection: "close" })],
    });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body).reason).toBe("not_found");
  });

  it("answers a chunked body over the limit with 413, which the client reads before the close", async () => {
    const answer = await rawRequest(url, {
      parts: [
        head("POST /v2/models/1/infer HTTP/1.1", { host: "runner", "transfer-encoding": "chunked" }),
        chunked(inferBody("x".repeat(8_000)), 1_000),
      ],
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).reason).toBe("body_too_large");
  });

  it("logs an abandoned upload at debug level: it is the client's doing, not an error", async () => {
    const lines: { level: number; msg: string }[] = [];
    const log = ctx.log;
    ctx.log = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    try {
      await rawRequest(url, {
        parts: [
          head("POST /v2/models/1/infer HTTP/1.1", { host: "runner", "content-length": 1_000 }),
          '{"inputs": [{"na',
        ],
        pauseMs: 50,
        abandon: true,
      });
      await until(() => (lines.length > 0 ? true : undefined), "a log line");
      expect(lines.filter((line) => line.level >= 40)).toEqual([]);
      expect(lines.map((line) => line.msg)).toContain("request abandoned by the client");
      expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
    } finally {
      ctx.log = log;
    }
  });
});

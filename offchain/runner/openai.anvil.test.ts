// The official `openai` npm client, given the SDK's paying fetch, against a runner serving
// USE-lite on a real anvil chain: it lists the base and the adapters as vLLM does, pays for
// batched embeddings (one voucher per request, priced per input row), gets what the merged-weights
// reference computes, in float and in base64, and the calls settle on-chain. Refusals come in
// OpenAI's error shape and charge nothing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenLoRAClient } from "../../sdk/client";
import { channelLanes, paidFetch } from "../../sdk/consumer/channels";
import { createPayingFetch, type PaidReceipt } from "../../sdk/consumer/payingFetch";
import { paymentChannelsAbi } from "../../sdk/generated/abis";
import { HEADERS } from "../../sdk/protocol/x402";
import { loadUseLiteSource } from "../ml/base/useLite/source";
import { denseBatch, runUseLite, USE_LITE_HASH, useLiteBase } from "../ml/base/useLite/useLiteBase";
import { createSession } from "../ml/onnx/session";
import { loadPeftAdapter } from "../ml/peft/adapterDirectory";
import { buildMergedUseLiteOnnx } from "../ml/peft/loraMath";
import { loadRunnerConfig } from "./config";
import { type Runner, startRunner } from "./runner";
import { writePeftAdapter } from "./testing/peftAdapters";
import {
  deployProtocol,
  devAccount,
  openChannel,
  type Protocol,
  privateKeyOf,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "./testing/protocolFixture";

const TOLERANCE = 1e-4;
const PRICE = { embedding: 1_000n, other: 2_500n, classifier: 1_000n };
const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-openai-"));
const dirs = {
  embedding: path.join(tmp, "embedding"),
  other: path.join(tmp, "other"),
  classifier: path.join(tmp, "classifier"),
};
const hashes = { embedding: "0x", other: "0x", classifier: "0x" } as Record<keyof typeof dirs, `0x${string}`>;
const models = { embedding: 0n, other: 0n, classifier: 0n };
const runnerAccount = devAccount(3);
const consumer = devAccount(4);
let p: Protocol;
let runner: Runner;
let channelId: bigint;
let openai: OpenAI;
let sdk: ReturnType<typeof createOpenLoRAClient>;
const receipts: PaidReceipt[] = [];

const texts = [
  "ETH just broke out, this rally looks strong",
  "Win a free cruise!!! reply now to claim your prize",
  "the meeting moved to thursday at three",
];

beforeAll(async () => {
  hashes.embedding = writePeftAdapter(dirs.embedding, { seed: 61 });
  hashes.other = writePeftAdapter(dirs.other, { seed: 62, bScale: 0.05 });
  hashes.classifier = writePeftAdapter(dirs.classifier, { seed: 63, labels: ["ham", "spam"] });
  p = await deployProtocol();
  const deploymentsFile = path.join(tmp, "deployment.json");
  writeFileSync(deploymentsFile, JSON.stringify(p.deployment));
  const baseModelId = await registerBaseModel(p, USE_LITE_HASH, "openlora:base/use-lite-en");
  const owner = devAccount(1);
  for (const name of ["embedding", "other", "classifier"] as const) {
    models[name] = await registerAdapter(
      p,
      owner,
      { baseModelId, adapterHash: hashes[name], pricePerCall: PRICE[name], vaultShareBps: 1_000 },
      [{ account: owner, units: 1_000n }],
    );
  }
  await registerRunner(p, runnerAccount, "http://127.0.0.1", 500);
  const config = loadRunnerConfig({
    env: { OPENLORA_RUNNER_KEY: privateKeyOf(3), OPENLORA_BASE: "use-lite" },
    flags: {
      rpcUrl: p.anvil.rpcUrl,
      deployments: deploymentsFile,
      port: 0,
      dataDir: path.join(tmp, "data"),
      adapters: Object.values(dirs),
      settlement: { intervalMs: 3_600_000, confirmations: 0 },
      chainCacheMs: 60_000,
    },
  });
  runner = await startRunner(config, {}, pino({ level: "silent" }));
  channelId = await openChannel(p, consumer, runnerAccount.address, 1_000_000n);
  sdk = createOpenLoRAClient({ rpcUrl: p.anvil.rpcUrl, deployment: p.deployment, account: consumer });
  // The consumer's everyday paying fetch, asked for the terms of each request.
  const payingFetch = paidFetch(sdk, {
    channelId,
    quoteEachRequest: true,
    onReceipt: (paid) => receipts.push(paid),
  });
  openai = new OpenAI({ baseURL: `${runner.url}/v1`, apiKey: "unused", fetch: payingFetch, maxRetries: 0 });
});

afterAll(async () => {
  await runner?.stop({ settle: false });
  await p?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** Each text's embedding with the adapter in `dir` merged into the base's weights. */
async function reference(dir: string, inputs: readonly string[]): Promise<Float32Array[]> {
  const { adapter } = loadPeftAdapter(dir);
  const session = await createSession(buildMergedUseLiteOnnx(loadUseLiteSource(), adapter), 1);
  try {
    const out: Float32Array[] = [];
    for (const text of inputs)
      out.push(await runUseLite(session, denseBatch([useLiteBase().tokenizer.encode(text)])));
    return out;
  } finally {
    await session.release();
  }
}

function maxDiff(served: ArrayLike<number>, expected: Float32Array): number {
  expect(served.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++)
    worst = Math.max(worst, Math.abs((served[i] as number) - (expected[i] as number)));
  return worst;
}

function decodeBase64(text: string): number[] {
  const bytes = Buffer.from(text, "base64");
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}

const tokens = (inputs: readonly string[]) =>
  inputs.reduce((sum, text) => sum + useLiteBase().tokenizer.encode(text).length, 0);

async function lane(modelId: bigint) {
  return p.publicClient.readContract({
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "getLane",
    args: [channelId, modelId],
  });
}

/** The OpenAI client's error for a call that must fail. */
async function refusal(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpenAI.APIError);
  return error as InstanceType<typeof OpenAI.APIError>;
}

describe("the openai client on the runner's /v1 routes", () => {
  it("lists the base and every served adapter as vLLM lists LoRA adapters", async () => {
    const listed = await openai.models.list();
    const ids = listed.data.map((model) => model.id);
    expect(ids).toEqual(["use-lite-en", ...Object.values(models).map(String)]);
    const [base, ...adapters] = listed.data as unknown as Record<string, unknown>[];
    expect(base).toMatchObject({ object: "model", owned_by: "openlora", root: USE_LITE_HASH, parent: null });
    expect(base?.max_model_len).toBe(128);
    for (const [i, name] of (["embedding", "other", "classifier"] as const).entries()) {
      expect(adapters[i]).toMatchObject({
        id: models[name].toString(),
        object: "model",
        root: hashes[name],
        parent: "use-lite-en",
        openlora: { pricePerInput: PRICE[name].toString(), status: "active" },
      });
    }
    const one = await openai.models.retrieve(models.other.toString());
    expect(one).toMatchObject({ id: models.other.toString(), parent: "use-lite-en", root: hashes.other });
    const openapi = (await (await fetch(`${runner.url}/openapi.json`)).json()) as { paths: object };
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(["/v1/models", "/v1/embeddings"]));
    expect(receipts).toHaveLength(0); // listing is free
  });

  it("pays for batched embeddings per row and answers the merged-weights reference, in float and base64", async () => {
    const expected = await reference(dirs.embedding, texts);
    const model = models.embedding.toString();

    const floats = await openai.embeddings.create({ model, input: texts, encoding_format: "float" });
    expect(floats.object).toBe("list");
    expect(floats.model).toBe(model);
    expect(floats.data.map((row) => [row.object, row.index])).toEqual([
      ["embedding", 0],
      ["embedding", 1],
      ["embedding", 2],
    ]);
    floats.data.forEach((row, i) => {
      expect(maxDiff(row.embedding, expected[i] as Float32Array)).toBeLessThan(TOLERANCE);
    });
    expect(floats.usage).toEqual({ prompt_tokens: tokens(texts), total_tokens: tokens(texts) });

    const encoded = await openai.embeddings.create({ model, input: texts, encoding_format: "base64" });
    encoded.data.forEach((row, i) => {
      expect(typeof row.embedding).toBe("string");
      expect(decodeBase64(row.embedding as unknown as string)).toEqual(floats.data[i]?.embedding);
    });

    // Without encoding_format the client asks for base64 itself and decodes it.
    const single = await openai.embeddings.create({ model, input: texts[1] as string });
    expect(single.data).toHaveLength(1);
    expect(Array.from(single.data[0]?.embedding ?? [])).toEqual(floats.data[1]?.embedding);

    // Another adapter on the same URL, at its own price.
    const [otherExpected] = await reference(dirs.other, [texts[2] as string]);
    const other = await openai.embeddings.create({
      model: models.other.toString(),
      input: [texts[2] as string],
    });
    expect(maxDiff(other.data[0]?.embedding ?? [], otherExpected as Float32Array)).toBeLessThan(TOLERANCE);
    expect(maxDiff(other.data[0]?.embedding ?? [], expected[2] as Float32Array)).toBeGreaterThan(TOLERANCE);

    expect(receipts.map((paid) => [paid.receipt.modelId, paid.price])).toEqual([
      [models.embedding, 3n * PRICE.embedding],
      [models.embedding, 3n * PRICE.embedding],
      [models.embedding, PRICE.embedding],
      [models.other, PRICE.other],
    ]);
  });

  it("refuses in OpenAI's error shape and charges nothing for a refusal", async () => {
    const before = receipts.length;
    const base = await refusal(openai.embeddings.create({ model: "use-lite-en", input: "hi" }));
    expect([base.status, base.code, base.param]).toEqual([400, "base_model_not_sold", "model"]);
    const unknown = await refusal(openai.embeddings.create({ model: "999", input: "hi" }));
    expect([unknown.status, unknown.code, unknown.type]).toEqual([
      404,
      "model_not_found",
      "invalid_request_error",
    ]);
    // A classifier: refused once paid-for work showed it (the call rolled back), then before payment.
    for (let i = 0; i < 2; i++) {
      const classifier = await refusal(
        openai.embeddings.create({ model: models.classifier.toString(), input: "hi" }),
      );
      expect([classifier.status, classifier.code]).toEqual([400, "model_not_embedding"]);
      expect(classifier.message).toMatch(/POST \/v2\/models\/\d+\/infer/);
    }
    const model = models.embedding.toString();
    const hostile: [unknown, string, string][] = [
      [Array.from({ length: 257 }, () => "a"), "input", "holds more than 256 texts"],
      [[1, 2, 3], "input[0]", "must be a string"],
      [["fine", ""], "input[1]", "must not be empty"],
      [{ text: "x" }, "input", "must be a string"],
      ["x".repeat(10_001), "input", "longer than 10,000 characters"],
    ];
    for (const [input, param, message] of hostile) {
      const error = await refusal(openai.embeddings.create({ model, input: input as string }));
      expect([error.status, error.param, error.code]).toEqual([400, param, "invalid_value"]);
      expect(error.message).toContain(message);
    }
    const format = await refusal(
      openai.embeddings.create({ model, input: "x", encoding_format: "int8" as "float" }),
    );
    expect([format.status, format.param]).toEqual([400, "encoding_format"]);
    const width = await refusal(openai.embeddings.create({ model, input: "x", dimensions: 256 }));
    expect([width.status, width.param]).toEqual([400, "dimensions"]);
    const missing = await refusal(openai.embeddings.create({ model } as never));
    expect([missing.status, missing.code, missing.param]).toEqual([
      400,
      "missing_required_parameter",
      "input",
    ]);
    expect(receipts).toHaveLength(before);

    // What the client library would not send.
    const raw = async (body: string) => {
      const res = await fetch(`${runner.url}/v1/embeddings`, { method: "POST", body });
      return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> } };
    };
    const malformed = await raw("{not json");
    expect(malformed).toMatchObject({
      status: 400,
      body: { error: { code: "malformed_json", param: null } },
    });
    const tooLarge = await raw(JSON.stringify({ model, input: ["x".repeat(70_000)] }));
    expect(tooLarge).toMatchObject({
      status: 413,
      body: { error: { type: "invalid_request_error", code: "body_too_large" } },
    });
    const unpaid = await raw(JSON.stringify({ model, input: ["a", "b"] }));
    expect(unpaid).toMatchObject({ status: 402, body: { error: { type: "payment_required" } } });
    const none = await fetch(`${runner.url}/v1/chat/completions`, { method: "POST", body: "{}" });
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  it("answers a paid request whose answer was lost again, for the same voucher, charged once", async () => {
    let lost = 0;
    // The runner answers the first paid request, and the client never sees it: a dropped connection.
    const losingFetch: typeof fetch = async (input, init) => {
      if (lost === 0 && new Headers(init?.headers).has(HEADERS.signature)) {
        lost++;
        await (await fetch(input, init)).arrayBuffer();
        throw new TypeError("fetch failed");
      }
      return fetch(input, init);
    };
    const before = receipts.length;
    const payingFetch = createPayingFetch({
      lanes: channelLanes(sdk, channelId), // a fresh cursor: the 402 offers the lane to resume from
      quoteEachRequest: true,
      onReceipt: (paid) => receipts.push(paid),
      fetch: losingFetch,
    });
    const client = new OpenAI({
      baseURL: `${runner.url}/v1`,
      apiKey: "unused",
      fetch: payingFetch,
      maxRetries: 0,
    });
    const input = [texts[0] as string, texts[1] as string];
    const answer = await client.embeddings.create({
      model: models.other.toString(),
      input,
      encoding_format: "float",
    });
    const expected = await reference(dirs.other, input);
    answer.data.forEach((row, i) => {
      expect(maxDiff(row.embedding, expected[i] as Float32Array)).toBeLessThan(TOLERANCE);
    });
    expect(lost).toBe(1);
    expect(receipts.slice(before).map((paid) => [paid.receipt.callIndex, paid.price])).toEqual([
      [2n, 2n * PRICE.other],
    ]);
  });

  it("settles what was paid: each lane's amount is its rows times its price", async () => {
    const settled = await fetch(`${runner.url}/v2/settlement`, { method: "POST" });
    expect(((await settled.json()) as { batches: unknown[] }).batches).toHaveLength(1);
    expect(await lane(models.embedding)).toMatchObject({ paidAmount: 7n * PRICE.embedding, paidCalls: 3n });
    expect(await lane(models.other)).toMatchObject({ paidAmount: 3n * PRICE.other, paidCalls: 2n });
    expect(await lane(models.classifier)).toMatchObject({ paidAmount: 0n, paidCalls: 0n });
  });
});

// The runner's HTTP surface under hostile input, on a real anvil chain: numbers past uint256
// (which must not reach the chain's encoder and come back as "chain unavailable"), then a
// bounded fuzz over raw TCP (a fixed seed, a few hundred requests): no 5xx but deliberate 503
// back-pressure, no hang, nothing logged as an error, and a good paid call still served and
// settled on-chain afterwards.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paymentChannelsAbi } from "../../sdk/generated/abis";
import {
  decodePaymentRequired,
  encodeHeader,
  HEADERS,
  type PaymentTerms,
  paymentPayload,
} from "../../sdk/protocol/x402";
import { USE_LITE_HASH } from "../ml/base/useLite/useLiteBase";
import { contentHash } from "../ml/hash";
import { Rng } from "../ml/random";
import { requestHashNative } from "../payments/nativeHashes";
import { loadRunnerConfig } from "./config";
import { type Runner, startRunner } from "./runner";
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
import { chunked, head, type RawAnswer, type RawRequest, rawRequest } from "./testing/rawHttp";

const SPAM = "offchain/ml/models/spam-filter";
const MAX_BODY = 8 * 1024;
const FUZZ_SEED = 21;
const FUZZ_REQUESTS = 300;
const UINT256_LIMIT = 1n << 256n;

const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-http-fuzz-"));
const runnerAccount = devAccount(3);
const logged: { level: number; msg: string; reason?: string }[] = [];
let p: Protocol;
let runner: Runner;
let spamModel: bigint;
let terms: PaymentTerms;
let channelId: bigint;

beforeAll(async () => {
  p = await deployProtocol();
  const deploymentsFile = path.join(tmp, "deployment.json");
  writeFileSync(deploymentsFile, JSON.stringify(p.deployment));
  const baseModelId = await registerBaseModel(p, USE_LITE_HASH);
  const owner = devAccount(1);
  spamModel = await registerAdapter(
    p,
    owner,
    {
      baseModelId,
      adapterHash: contentHash(readFileSync(path.join(SPAM, "adapter_model.safetensors"))),
      pricePerCall: 1_000n,
      vaultShareBps: 2_000,
    },
    [{ account: owner, units: 1_000n }],
  );
  await registerRunner(p, runnerAccount, "http://127.0.0.1", 500);
  const config = loadRunnerConfig({
    env: { OPENLORA_RUNNER_KEY: privateKeyOf(3) },
    flags: {
      rpcUrl: p.anvil.rpcUrl,
      deployments: deploymentsFile,
      port: 0,
      dataDir: path.join(tmp, "data"),
      adapters: [SPAM],
      maxBodyBytes: MAX_BODY,
      settlement: { intervalMs: 3_600_000, confirmations: 0 },
    },
  });
  const log = pino({ level: "info" }, { write: (line: string) => logged.push(JSON.parse(line)) });
  runner = await startRunner(config, {}, log);
  const probe = await fetch(`${runner.url}/v2/models/${spamModel}/infer`, {
    method: "POST",
    body: inferBody("x"),
  });
  terms = decodePaymentRequired(probe.headers.get(HEADERS.required)).accepts[0] as PaymentTerms;
  // A channel of its own for the fuzz's signed vouchers (a stranger signs them: refused).
  channelId = (await payingClient(p, runnerAccount.address, devAccount(5), 100_000n)).channelId;
}, 120_000);

afterAll(async () => {
  await runner?.stop({ settle: false });
  await p?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A complete request that asks for the connection to close after its answer. */
function complete(
  line: string,
  headers: Record<string, string | number> = {},
  body: string | Buffer = "",
): RawRequest {
  const length = Buffer.byteLength(body);
  return {
    parts: [head(line, { host: "runner", connection: "close", "content-length": length, ...headers }), body],
  };
}

/**
 * A PAYMENT-SIGNATURE header for a voucher with the given fields over the runner's terms, paying
 * for `body` on the spam model: its request hash is the one the runner computes (numbers past
 * uint256 wrap in it, as they do in the runner's), so the payment gets past that check.
 */
function payment(
  voucher: Record<string, unknown>,
  extra: { requestHash?: string; signature?: string; body?: string } = {},
) {
  const full = {
    channelId,
    modelId: spamModel,
    cumulativeAmount: 1_000n,
    cumulativeCalls: 1n,
    transcriptHash: `0x${"ab".repeat(32)}`,
    ...voucher,
  };
  let requestHash = extra.requestHash ?? `0x${"cd".repeat(32)}`;
  const hashable = (n: unknown) => typeof n === "bigint" && n < UINT256_LIMIT;
  if (!extra.requestHash && hashable(full.channelId) && hashable(full.cumulativeCalls))
    requestHash = requestHashNative(
      full.channelId,
      spamModel,
      full.cumulativeCalls,
      extra.body ?? inferBody("hi"),
    );
  const signature = extra.signature ?? `0x${"11".repeat(64)}1b`;
  // biome-ignore lint/suspicious/noExplicitAny: fields under test are deliberately out of type
  return encodeHeader(paymentPayload(terms, full as any, requestHash as any, signature as any));
}

// biome-ignore lint/suspicious/noExplicitAny: error bodies under test, asserted field by field
const json = (res: Response): Promise<any> => res.json();
const statusOf = (answer: RawAnswer) => `${answer.status} ${answer.body.slice(0, 200)}`;

describe("runner HTTP surface, hostile input on anvil", () => {
  it("answers a model id above 2^256 - 1 with 404 unknown_model, not 503 chain_unavailable", async () => {
    for (const id of [UINT256_LIMIT, UINT256_LIMIT + 12_345n, 10n ** 78n - 1n]) {
      for (const route of [`/v2/models/${id}`, `/v2/models/${id}/ready`]) {
        const answer = await fetch(`${runner.url}${route}`);
        expect([route, answer.status, (await json(answer)).reason]).toEqual([route, 404, "unknown_model"]);
      }
      const infer = await fetch(`${runner.url}/v2/models/${id}/infer`, {
        method: "POST",
        body: inferBody("hi"),
      });
      expect([infer.status, (await json(infer)).reason]).toEqual([404, "unknown_model"]);
    }
  });

  it("answers a voucher number above 2^256 - 1 with 400 payment_malformed, not 503 chain_unavailable", async () => {
    const huge = UINT256_LIMIT + 7n;
    for (const field of ["channelId", "modelId", "cumulativeAmount", "cumulativeCalls"]) {
      const answer = await fetch(`${runner.url}/v2/models/${spamModel}/infer`, {
        method: "POST",
        body: inferBody("hi"),
        headers: { [HEADERS.signature]: payment({ [field]: huge }) },
      });
      const body = await json(answer);
      expect([field, answer.status, body.reason]).toEqual([field, 400, "payment_malformed"]);
      expect(body.error).toContain(`payload.voucher.${field}: must fit in uint256`);
    }
    // A channel header past uint256 names no channel: the 402 simply offers no lane.
    const probe = await fetch(`${runner.url}/v2/models/${spamModel}/infer`, {
      method: "POST",
      body: inferBody("hi"),
      headers: { [HEADERS.channel]: huge.toString() },
    });
    expect(probe.status).toBe(402);
  });

  it(`answers ${FUZZ_REQUESTS} malformed requests (seed ${FUZZ_SEED}) without a 5xx or a hang, then serves and settles a good paid call`, async () => {
    const rng = new Rng(FUZZ_SEED);
    const failures: string[] = [];
    const seen = new Map<string, number>();
    for (let i = 0; i < FUZZ_REQUESTS; i++) {
      const { kind, request } = hostileRequest(rng);
      const answer = await rawRequest(runner.url, { timeoutMs: 5_000, ...request });
      const key = `${kind} ${answer.status ?? "closed"}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      const deliberate503 = answer.status === 503 && /"reason":"busy"/.test(answer.body);
      if (answer.timedOut) failures.push(`#${i} ${kind}: no answer and no close within 5 s`);
      else if (answer.status !== null && answer.status >= 500 && !deliberate503)
        failures.push(`#${i} ${kind}: ${statusOf(answer)}`);
    }
    expect(failures).toEqual([]);
    // The fuzz reached the routes it meant to: refusals of each kind, not only parse errors.
    const statuses = new Set([...seen.keys()].map((key) => key.split(" ")[1]));
    for (const status of ["400", "402", "404", "413"]) expect(statuses).toContain(status);
    expect(logged.filter((line) => line.level >= 50)).toEqual([]);

    // Still serving and settling.
    const client = await payingClient(p, runnerAccount.address, devAccount(6), 100_000n);
    const answer = await client.call(runner.url, spamModel, "WIN a FREE cruise, click now");
    expect(["spam", "ham"]).toContain(answer.outputs[0]?.data[0]);
    const settled = await fetch(`${runner.url}/v2/settlement`, { method: "POST" });
    expect(settled.status).toBe(200);
    const lane = await p.publicClient.readContract({
      address: p.deployment.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "getLane",
      args: [client.channelId, spamModel],
    });
    expect(lane).toMatchObject({ paidAmount: 1_000n, paidCalls: 1n });
  });
});

// --- the fuzz's requests -------------------------------------------------------------------

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)] as T;

function randomBytes(rng: Rng, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = rng.int(256);
  return bytes;
}

/** Numbers as a hostile client writes them: past uint256, negative, fractional, not numbers. */
function hostileNumber(rng: Rng): string {
  return pick(rng, [
    UINT256_LIMIT.toString(),
    (UINT256_LIMIT * 10n ** BigInt(rng.int(40))).toString(),
    (UINT256_LIMIT - 1n).toString(),
    "9".repeat(1 + rng.int(200)),
    "-1",
    "1.5",
    "1e3",
    "0x10",
    "",
    " 1",
    "NaN",
    "0",
    String(rng.int(1_000_000)),
  ]);
}

function hostileHex(rng: Rng, bytes: number): string {
  return pick(rng, [
    `0x${"zz".repeat(bytes)}`,
    `0x${"a".repeat(bytes * 2 - 1)}`,
    `0x${"ab".repeat(bytes + 1)}`,
    "ab".repeat(bytes),
    "0x",
    "",
    `0x${randomBytes(rng, bytes).toString("hex")}`,
  ]);
}

type Generator = (rng: Rng) => RawRequest;

const infer = (model: string | bigint = spamModel) => `POST /v2/models/${model}/infer HTTP/1.1`;

const GENERATORS: Record<string, Generator> = {
  garbage: (rng) => ({ parts: [randomBytes(rng, 1 + rng.int(2_000))], halfClose: true }),
  requestLine: (rng) => {
    const method = pick(rng, ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "FOO", "G\tET", ""]);
    const target = pick(rng, [
      "//x:99999/",
      "//x:99999/v2/models",
      "*",
      "http://[::1",
      "http://runner:99999/v2",
      "/%ff%fe",
      "/v2/models/%00/infer",
      `/v2/models/${hostileNumber(rng)}`,
      `/v2/models/${hostileNumber(rng)}/ready`,
      `/v2/models/${hostileNumber(rng)}/infer`,
      `/v2/receipts/${hostileHex(rng, 32)}/proof`,
      `/v2/receipts/0x${randomBytes(rng, 32).toString("hex")}/proof`,
      "/dashboard/../../etc/passwd",
      "/dashboard/%2e%2e/%2e%2e/package.json",
      `/${"a".repeat(rng.int(20_000))}`,
      "/v2?x=%zz#frag",
      "",
    ]);
    const version = pick(rng, ["HTTP/1.1", "HTTP/1.0", "HTTP/9.9", "HTTP/1.1 extra", "", "http/1.1"]);
    return complete(`${method} ${target} ${version}`.trim());
  },
  headers: (rng) => {
    const body = inferBody("headers");
    const variants: (() => RawRequest)[] = [
      () => complete(infer(), { "x-huge": "a".repeat(20_000 + rng.int(50_000)) }, body),
      () => ({
        parts: [
          `${infer()}\r\nhost: runner\r\n${Array.from({ length: 3_000 }, (_, i) => `x-${i}: ${i}`).join("\r\n")}\r\n\r\n`,
        ],
        halfClose: true,
      }),
      () => ({ parts: [`${infer()}\r\nbad header: 1\r\ncontent-length: 0\r\n\r\n`], halfClose: true }),
      () => ({ parts: [`${infer()}\r\nx: a\0b\r\ncontent-length: 0\r\n\r\n`], halfClose: true }),
      () => ({
        parts: [`${infer()}\r\ncontent-length: ${hostileNumber(rng)}\r\n\r\n${body}`],
        halfClose: true,
      }),
      () => ({
        parts: [`${infer()}\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\n${body}`],
        halfClose: true,
      }),
      () => ({
        parts: [
          `${infer()}\r\ntransfer-encoding: chunked\r\ncontent-length: ${body.length}\r\n\r\n`,
          chunked(body, 16),
        ],
        halfClose: true,
      }),
      () => complete(infer(), { [HEADERS.channel]: hostileNumber(rng) }, body),
      () => complete(infer(), { "content-type": "text/plain; charset=\u00ff" }, body),
    ];
    return pick(rng, variants)();
  },
  json: (rng) => {
    const valid = inferBody("a message");
    const bodies = [
      "{",
      "null",
      "[]",
      '"text"',
      "1e309",
      "[".repeat(100_000).slice(0, MAX_BODY - 1),
      JSON.stringify({ inputs: {} }),
      JSON.stringify({ inputs: [{ name: "text", datatype: "BYTES", shape: [1], data: [123] }] }),
      JSON.stringify({ inputs: [{ name: "text", datatype: "BYTES", shape: [2], data: ["a", "b"] }] }),
      JSON.stringify({ inputs: [{ name: "text", datatype: "FP32", shape: [1], data: ["a"] }] }),
      JSON.stringify({ inputs: [{ name: "text", datatype: "BYTES", shape: [1], data: [""] }] }),
      JSON.stringify({
        inputs: [{ name: "text", datatype: "BYTES", shape: [1], data: ["x".repeat(10_001)] }],
      }),
      JSON.stringify({ id: 5, inputs: [] }),
      JSON.stringify({ __proto__: { polluted: true }, inputs: [{ name: "text" }] }),
      valid.slice(0, rng.int(valid.length)),
      Buffer.from(Buffer.from(valid).map((byte) => (rng.next() < 0.05 ? rng.int(256) : byte))),
      randomBytes(rng, rng.int(MAX_BODY)),
    ];
    return complete(infer(), {}, pick(rng, bodies));
  },
  payment: (rng) => {
    const body = inferBody("hi");
    const header = pick(rng, [
      () => "!!!not base64!!!",
      () => "",
      () => Buffer.from("null").toString("base64"),
      () => Buffer.from("{").toString("base64"),
      () => Buffer.from(JSON.stringify({ x402Version: 2 })).toString("base64"),
      () => randomBytes(rng, rng.int(500)).toString("base64"),
      () =>
        payment({
          [pick(rng, ["channelId", "modelId", "cumulativeAmount", "cumulativeCalls"])]: hostileNumber(rng),
        }),
      () => payment({ transcriptHash: hostileHex(rng, 32) }),
      () => payment({}, { requestHash: hostileHex(rng, 32) }),
      () => payment({}, { signature: hostileHex(rng, 65) }),
      () => payment({}, { signature: `0x${randomBytes(rng, 64).toString("hex")}` }),
      () => payment({}, { signature: `0x${randomBytes(rng, 65).toString("hex")}` }),
      () => payment({ channelId: BigInt(1 + rng.int(1_000_000)) }),
      () => payment({ channelId: UINT256_LIMIT - 1n }),
      () => payment({ modelId: spamModel + 1n }),
      () => payment({ cumulativeCalls: UINT256_LIMIT - 1n, cumulativeAmount: UINT256_LIMIT - 1n }),
    ])();
    return complete(
      infer(pick(rng, [spamModel, spamModel, spamModel, spamModel, 999n])),
      { [HEADERS.signature]: header },
      body,
    );
  },
  chunked: (rng) => {
    const body = inferBody("x".repeat(rng.int(3_000)));
    const line = `${infer()}\r\nhost: runner\r\ntransfer-encoding: chunked\r\n\r\n`;
    return pick(rng, [
      // Truncated: no last chunk, then the client stops.
      () => ({ parts: [line, chunked(body, 64, { last: false })], halfClose: true }),
      // Over the limit.
      () => ({
        parts: [line, chunked(inferBody("x".repeat(MAX_BODY + rng.int(20_000))), 1 + rng.int(4_000))],
      }),
      () => ({ parts: [line, "zz\r\nabc\r\n0\r\n\r\n"], halfClose: true }),
      () => ({ parts: [line, "ffffffffffffffffff\r\nabc\r\n"], halfClose: true }),
      () => ({ parts: [line, `${(10).toString(16)};ext=1\r\n0123456789\r\n0\r\n\r\n`] }),
      () => ({ parts: [line, "5\r\nabc\r\n"], halfClose: true }),
    ])();
  },
  openai: (rng) => {
    const model = spamModel.toString();
    const body = pick(rng, [
      "{",
      "null",
      "[]",
      JSON.stringify({ model, input: Array.from({ length: 257 + rng.int(5_000) }, () => "a") }),
      JSON.stringify({ model: hostileNumber(rng), input: "x" }),
      JSON.stringify({ model, input: [[1, 2], 3] }),
      JSON.stringify({ model: {}, input: {} }),
      JSON.stringify({ model, input: "x", encoding_format: 5, dimensions: "512" }),
      JSON.stringify({ model: "use-lite-en", input: ["x"] }),
      JSON.stringify({ __proto__: { polluted: true }, model, input: ["x"] }),
      randomBytes(rng, rng.int(MAX_BODY)),
    ]);
    const target = pick(rng, [
      "/v1/embeddings",
      "/v1/embeddings",
      "/v1/models",
      `/v1/models/${hostileNumber(rng)}`,
      "/v1/models/%zz",
      "/v1?x=%zz",
    ]);
    return complete(`${pick(rng, ["POST", "GET"])} ${target} HTTP/1.1`, {}, body);
  },
  abandoned: (rng) => {
    const declared = 100 + rng.int(MAX_BODY);
    const sent = rng.int(declared);
    return {
      parts: [
        `${infer()}\r\nhost: runner\r\ncontent-length: ${declared}\r\n\r\n`,
        Buffer.from(inferBody("y".repeat(declared))).subarray(0, sent),
      ],
      pauseMs: rng.int(3) * 10,
      halfClose: true,
    };
  },
};

function hostileRequest(rng: Rng): { kind: string; request: RawRequest } {
  const kind = pick(rng, Object.keys(GENERATORS));
  return { kind, request: (GENERATORS[kind] as Generator)(rng) };
}

// A runner serving the USE-lite base (`base: "use-lite"`) on a real anvil chain: paid calls over
// HTTP to a PEFT classifier and to an embedding adapter, answered as the merged-weights
// reference answers them, settled and proven on-chain; a tampered adapter refused while the
// others serve; models registered on another base not served.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaidReceipt } from "../../sdk/consumer/payingFetch";
import { paymentChannelsAbi, settlementAbi } from "../../sdk/generated/abis";
import { encodeAdapter } from "../ml/adapter/adapterFile";
import { landeBaseModel } from "../ml/base/baseModel";
import { loadUseLiteSource } from "../ml/base/useLite/source";
import { denseBatch, runUseLite, USE_LITE_HASH, useLiteBase } from "../ml/base/useLite/useLiteBase";
import { contentHash } from "../ml/hash";
import { createSession } from "../ml/onnx/session";
import { loadPeftAdapter } from "../ml/peft/adapterDirectory";
import { buildMergedUseLiteOnnx, classify } from "../ml/peft/loraMath";
import { Rng } from "../ml/random";
import { loadRunnerConfig } from "./config";
import { startRunner } from "./runner";
import { payingClient } from "./testing/payingClient";
import { writePeftAdapter } from "./testing/peftAdapters";
import {
  deployProtocol,
  devAccount,
  type Protocol,
  privateKeyOf,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "./testing/protocolFixture";
import { randomAdapter } from "./testing/randomAdapter";

const TOLERANCE = 1e-4;
const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-runner-uselite-"));
const dirs = {
  classifier: path.join(tmp, "sentiment"),
  embedding: path.join(tmp, "embedding"),
  victim: path.join(tmp, "victim"),
};
let p: Protocol;
let deploymentsFile: string;
const owner = devAccount(1);
const runnerAccount = devAccount(3);
const models = { classifier: 0n, embedding: 0n, victim: 0n, lande: 0n };

beforeAll(async () => {
  const hashes = {
    classifier: writePeftAdapter(dirs.classifier, { seed: 41, labels: ["bearish", "bullish"], bScale: 0.05 }),
    embedding: writePeftAdapter(dirs.embedding, { seed: 42 }),
    victim: writePeftAdapter(dirs.victim, { seed: 43 }),
  };
  p = await deployProtocol();
  deploymentsFile = path.join(tmp, "deployment.json");
  writeFileSync(deploymentsFile, JSON.stringify(p.deployment));
  const baseModelId = await registerBaseModel(p, USE_LITE_HASH, "openlora:base/use-lite-en");
  const contributors = [{ account: owner, units: 1_000n }];
  for (const name of ["classifier", "embedding", "victim"] as const) {
    models[name] = await registerAdapter(
      p,
      owner,
      { baseModelId, adapterHash: hashes[name], pricePerCall: 1_000n, vaultShareBps: 1_000 },
      contributors,
    );
  }
  // A model on the lande base: a use-lite runner does not serve it.
  const landeBase = await registerBaseModel(p, landeBaseModel().hash);
  const landeHash = contentHash(
    encodeAdapter(
      randomAdapter(new Rng(3), landeBaseModel(), {
        rank: 4,
        labels: ["ham", "spam"],
        factorStd: 0.1,
        headStd: 0.1,
        biasStd: 0,
      }),
      landeBaseModel(),
    ),
  );
  models.lande = await registerAdapter(
    p,
    owner,
    { baseModelId: landeBase, adapterHash: landeHash, pricePerCall: 1_000n, vaultShareBps: 1_000 },
    contributors,
  );
  await registerRunner(p, runnerAccount, "http://127.0.0.1", 500);
});

afterAll(async () => {
  await p?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function runnerConfig(dataDir: string) {
  return loadRunnerConfig({
    env: { OPENLORA_RUNNER_KEY: privateKeyOf(3), OPENLORA_BASE: "use-lite" },
    flags: {
      rpcUrl: p.anvil.rpcUrl,
      deployments: deploymentsFile,
      port: 0,
      dataDir,
      adapters: Object.values(dirs),
      settlement: { intervalMs: 3_600_000, confirmations: 0 },
      chainCacheMs: 60_000,
    },
  });
}

/** What the merged-weights reference answers for `text` with the adapter in `dir`. */
async function reference(dir: string, text: string): Promise<Float32Array> {
  const { adapter } = loadPeftAdapter(dir);
  const session = await createSession(buildMergedUseLiteOnnx(loadUseLiteSource(), adapter), 1);
  try {
    const embedding = await runUseLite(session, denseBatch([useLiteBase().tokenizer.encode(text)]));
    return adapter.head ? classify(embedding, adapter.head) : embedding;
  } finally {
    await session.release();
  }
}

function maxDiff(served: number[], expected: Float32Array): number {
  expect(served).toHaveLength(expected.length);
  return Math.max(...served.map((value, i) => Math.abs(value - (expected[i] as number))));
}

interface InferAnswer {
  outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[];
  parameters: Record<string, unknown>;
}

describe("runner on anvil, serving USE-lite", () => {
  it("answers paid calls to a classifier and an embedding adapter as the merged weights do, and settles them", async () => {
    const dataDir = path.join(tmp, "serve");
    const runner = await startRunner(runnerConfig(dataDir), {}, pino({ level: "silent" }));
    const client = await payingClient(p, runnerAccount.address, devAccount(4), 1_000_000n);
    try {
      expect(runner.base).toEqual({ id: "use-lite-en", hash: USE_LITE_HASH });
      const listed = (await (await fetch(`${runner.url}/v2/models`)).json()) as {
        models: { modelId: string }[];
      };
      expect(listed.models.map((m) => BigInt(m.modelId)).sort()).toEqual([
        models.classifier,
        models.embedding,
        models.victim,
      ]);
      expect((await fetch(`${runner.url}/v2/models/${models.lande}`)).status).toBe(404);

      const text = "ETH just broke out, this rally looks strong 🚀";
      const sentiment = (await client.call(runner.url, models.classifier, text)) as InferAnswer;
      const [label, scores] = sentiment.outputs as [InferAnswer["outputs"][0], InferAnswer["outputs"][0]];
      expect(sentiment.parameters.labels).toEqual(["bearish", "bullish"]);
      const expectedScores = await reference(dirs.classifier, text);
      expect(maxDiff(scores.data as number[], expectedScores)).toBeLessThan(TOLERANCE);
      expect(label.data[0]).toBe(
        Number(expectedScores[0]) > Number(expectedScores[1]) ? "bearish" : "bullish",
      );

      const embedded = (await client.call(runner.url, models.embedding, text)) as InferAnswer;
      const [vector] = embedded.outputs as [InferAnswer["outputs"][0]];
      expect([vector.name, vector.datatype, vector.shape]).toEqual(["embedding", "FP32", [1, 512]]);
      const values = vector.data as number[];
      expect(maxDiff(values, await reference(dirs.embedding, text))).toBeLessThan(TOLERANCE);
      expect(Math.hypot(...values)).toBeCloseTo(1, 5);
      // Once an adapter is loaded, its metadata names what it answers.
      const outputsOf = async (model: bigint) =>
        ((await (await fetch(`${runner.url}/v2/models/${model}`)).json()) as InferAnswer).outputs.map(
          (output) => output.name,
        );
      expect(await outputsOf(models.classifier)).toEqual(["label", "scores"]);
      expect(await outputsOf(models.embedding)).toEqual(["embedding"]);

      const settled = await fetch(`${runner.url}/v2/settlement`, { method: "POST" });
      expect(((await settled.json()) as { batches: unknown[] }).batches).toHaveLength(1);
      for (const model of [models.classifier, models.embedding]) {
        const lane = await p.publicClient.readContract({
          address: p.deployment.paymentChannels,
          abi: paymentChannelsAbi,
          functionName: "getLane",
          args: [client.channelId, model],
        });
        expect(lane).toMatchObject({ paidAmount: 1_000n, paidCalls: 1n });
      }
      const receipt = client.receipts[1] as PaidReceipt;
      const proof = (await (
        await fetch(`${runner.url}/v2/receipts/${receipt.receipt.requestHash}/proof`)
      ).json()) as { sequence: string; proof: `0x${string}`[] };
      const proven = await p.publicClient.readContract({
        address: p.deployment.settlement,
        abi: settlementAbi,
        functionName: "verifyReceipt",
        args: [runner.address, BigInt(proof.sequence), receipt.receipt, proof.proof],
      });
      expect(proven).toBe(true);
    } finally {
      await runner.stop({ settle: false });
    }
  });

  it("refuses a tampered adapter with the loader's reason and keeps serving the others", async () => {
    const dataDir = path.join(tmp, "tampered");
    const runner = await startRunner(runnerConfig(dataDir), {}, pino({ level: "silent" }));
    try {
      const victimHash = loadPeftAdapter(dirs.victim).hash;
      const stored = path.join(dataDir, "adapters", `${victimHash}.safetensors`);
      const bytes = readFileSync(stored);
      bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0x01;
      writeFileSync(stored, bytes);
      const client = await payingClient(p, runnerAccount.address, devAccount(5), 100_000n);
      await expect(client.call(runner.url, models.victim, "hello")).rejects.toThrow(
        /503.*refused: adapter bytes do not match the expected hash/,
      );
      const ready = await fetch(`${runner.url}/v2/models/${models.victim}/ready`);
      expect(ready.status).toBe(503);
      const answer = (await client.call(runner.url, models.classifier, "hello")) as InferAnswer;
      expect(answer.outputs[0]?.name).toBe("label");
    } finally {
      await runner.stop({ settle: false });
    }
  });

  it("starts from the CLI with `serve --base use-lite` on PEFT adapter directories", async () => {
    const child = spawn(
      process.execPath,
      [
        "bin/openlora.mjs",
        "serve",
        "--base",
        "use-lite",
        "--rpc",
        p.anvil.rpcUrl,
        "--deployments",
        deploymentsFile,
        "--port",
        "0",
        "--data-dir",
        path.join(tmp, "cli"),
        "--adapters",
        dirs.classifier,
        dirs.embedding,
      ],
      { env: { ...process.env, OPENLORA_RUNNER_KEY: privateKeyOf(3) }, stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let output = "";
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
          if (match && output.includes("runner is serving")) resolve(match[1] as string);
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        child.once("exit", (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
      });
      const client = await payingClient(p, runnerAccount.address, devAccount(6), 100_000n);
      const answer = (await client.call(url, models.embedding, "served from the CLI")) as InferAnswer;
      expect(answer.outputs[0]?.shape).toEqual([1, 512]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
    }
  });
});

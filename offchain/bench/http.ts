// `npm run bench:http`: paid calls per second end to end on loopback. A separate load process
// (httpLoad.ts) runs virtual clients, each on its own payment channel, signing a real voucher
// per call; the runner verifies it, runs the model in micro-batches, signs and journals the
// receipt (fsync, group commit) before answering. The same runner with payment off is the
// baseline. Everything runs on a local anvil with the deployed protocol.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { landeBaseModel } from "../ml/base/baseModel";
import { contentHash } from "../ml/hash";
import { loadRunnerConfig } from "../runner/config";
import { paymentTerms } from "../runner/paidCall";
import { startRunner } from "../runner/runner";
import {
  deployProtocol,
  devAccount,
  openChannel,
  privateKeyOf,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "../runner/testing/protocolFixture";
import { report } from "./table";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const SPAM = "offchain/ml/models/spam-filter";

interface LoadResult {
  calls: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
}

function runLoad(spec: unknown): Promise<LoadResult> {
  const json = JSON.stringify(spec, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "offchain/bench/httpLoad.ts", json], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load process exited ${code}`)),
    );
  });
}

const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-http-"));
const protocol = await deployProtocol();
try {
  const deploymentsFile = path.join(tmp, "deployment.json");
  writeFileSync(deploymentsFile, JSON.stringify(protocol.deployment));
  const baseModelId = await registerBaseModel(protocol, landeBaseModel().hash);
  const owner = devAccount(1);
  const adapterHash = contentHash(readFileSync(path.join(SPAM, "adapter.safetensors")));
  const modelId = await registerAdapter(
    protocol,
    owner,
    { baseModelId, adapterHash, pricePerCall: 100n, vaultShareBps: 1_000 },
    [{ account: owner, units: 1n }],
  );
  const runnerAccount = devAccount(3);
  await registerRunner(protocol, runnerAccount, "http://127.0.0.1", 500);
  const clients: { channelId: string; privateKey: `0x${string}` }[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const index = 4 + (i % 6); // dev accounts 4..9 hold ETH; each opens several channels
    const channelId = await openChannel(protocol, devAccount(index), runnerAccount.address, 10n ** 12n);
    clients.push({ channelId: channelId.toString(), privateKey: privateKeyOf(index) });
  }

  const config = (dataDir: string) =>
    loadRunnerConfig({
      env: { ...process.env, OPENLORA_RUNNER_KEY: privateKeyOf(3) }, // OPENLORA_* tunes the runner
      flags: {
        rpcUrl: protocol.anvil.rpcUrl,
        deployments: deploymentsFile,
        port: 0,
        dataDir: path.join(tmp, dataDir),
        adapters: [SPAM],
        settlement: { intervalMs: 3_600_000 },
      },
    });
  const rows = [];
  let paidRate = 0;
  const modes = process.env.BENCH_MODES === "paid" ? [true] : [true, false];
  for (const paid of modes) {
    const runner = await startRunner(config(paid ? "paid" : "free"), {}, pino({ level: "silent" }), {
      freeOfCharge: !paid,
    });
    const model = await runner.catalog.model(modelId);
    if (!model) throw new Error("the model is not served");
    const terms = paymentTerms(
      { ...protocol.deployment, chainId: runner.chainId, runner: runner.address },
      model,
    );
    const result = await runLoad({
      url: `${runner.url}/v2/models/${modelId}/infer`,
      paid,
      durationMs: DURATION_MS,
      chainId: runner.chainId,
      terms,
      clients,
    });
    await runner.stop({ settle: false });
    const rate = result.calls / result.seconds;
    if (paid) paidRate = rate;
    rows.push({
      mode: paid ? "paid (voucher + receipt + journal)" : "payment off",
      clients: CLIENTS,
      "calls/s": Math.round(rate),
      "p50 ms": Number(result.p50.toFixed(2)),
      "p99 ms": Number(result.p99.toFixed(2)),
      errors: result.errors,
      "paid / this": Number((paidRate / rate).toFixed(2)),
    });
  }
  report("HTTP end to end on loopback (load in a separate process, 2 cores shared)", rows, {
    aim: "≥ 2,000 paid calls/s with p99 < 25 ms",
  });
} finally {
  await protocol.stop();
  rmSync(tmp, { recursive: true, force: true });
}

/**
 * `openlora serve` finds its chain as every other command does: the node from $OPENLORA_RPC, and
 * that node's own deployments file in the project's deployments/, whatever the working directory.
 * The real CLI in a child process, against a devnet.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devnet, removeDeploymentFileOf, startDevnet } from "../../chain/devnet";
import { repoRoot } from "./chainOptions";
import { runCli } from "./cliHarness";
import { runnerEnv } from "./serve";

const elsewhere = mkdtempSync(join(tmpdir(), "openlora-serve-chain-"));
let devnet: Devnet;

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 3, keepDeploymentFile: true });
  const chain = { OPENLORA_RPC: devnet.rpcUrl };
  // A runner serves adapters of a registered base model: the spam filter registers it.
  const model = await runCli(["register", join(repoRoot, "offchain/ml/models/spam-filter")], chain);
  expect(model.code).toBe(0);
  const runner = await runCli(
    ["runner", "register", "--dev-account", "2", "--endpoint", "http://127.0.0.1:1"],
    chain,
  );
  expect(runner.code).toBe(0);
});

afterAll(async () => {
  await devnet?.stop();
  if (devnet) removeDeploymentFileOf(devnet);
  rmSync(elsewhere, { recursive: true, force: true });
});

describe("runnerEnv", () => {
  it("gives the runner the chain settings of every command, under its own names, which win", () => {
    expect(runnerEnv({ OPENLORA_RPC: "http://a", OPENLORA_DEPLOYMENT: "d.json" })).toMatchObject({
      OPENLORA_RPC_URL: "http://a",
      OPENLORA_DEPLOYMENTS: "d.json",
    });
    expect(runnerEnv({ OPENLORA_RPC: "http://a", OPENLORA_RPC_URL: "http://b" }).OPENLORA_RPC_URL).toBe(
      "http://b",
    );
  });
});

describe("openlora serve", () => {
  it("serves the chain of $OPENLORA_RPC, with its node's deployments file, from another directory", async () => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OPENLORA_")));
    const child = spawn(
      "node",
      [join(repoRoot, "bin/openlora.mjs"), "--json", "serve", "--port", "0", "--data-dir", "data"],
      {
        cwd: elsewhere,
        env: {
          ...clean,
          OPENLORA_RPC: devnet.rpcUrl,
          OPENLORA_RUNNER_KEY: (devnet.accounts[2] as { privateKey: Hex }).privateKey,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    for (const until = Date.now() + 50_000; !out.includes('"dashboard":'); ) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`serve did not start:\n${out}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(out).toContain(`"runner":"${(devnet.accounts[2] as { address: Hex }).address}"`);
    child.kill("SIGINT");
    expect(await exited, out).toBe(0);
  });
});

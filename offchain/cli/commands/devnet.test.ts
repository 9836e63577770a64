/**
 * `openlora devnet` and `openlora deploy`: the real CLI in a child process.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createPublicClient, http } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { type Anvil, startAnvil } from "../../chain/anvil";
import { devAccounts } from "../../chain/devnet";
import { repoRoot } from "./chainOptions";
import { runCli } from "./cliHarness";

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const files: string[] = [];
function privateFile(label: string): string {
  const file = `deployments/.cli-${label}-${process.pid}.json`;
  files.push(join(repoRoot, file));
  return file;
}

let anvil: Anvil | undefined;
afterAll(async () => {
  await anvil?.stop();
  for (const file of files) rmSync(file, { force: true });
});

describe("openlora devnet", () => {
  it("starts a chain, deploys, funds the dev accounts, prints them as JSON and stops (--no-wait)", async () => {
    const file = privateFile("devnet-once");
    const run = await runCli([
      "--json",
      "devnet",
      "--port",
      "0",
      "--accounts",
      "3",
      "--no-wait",
      "--deployment-file",
      file,
    ]);
    expect(run.code).toBe(0);
    const out = run.json() as {
      rpcUrl: string;
      pid: number;
      deployment: Record<string, string>;
      accounts: { address: string }[];
      funding: string;
    };
    expect(out.accounts.map((a) => a.address)).toEqual(devAccounts(3).map((a) => a.address));
    expect(out.funding).toBe("1000000000000");
    expect(out.deployment.settlement).toMatch(/^0x[0-9a-fA-F]{40}$/);
    // Periods short enough to close a channel and see vault revenue unlock in minutes.
    expect(out.deployment).toMatchObject({ challengePeriod: 600, profitUnlockPeriod: 3600 });
    expect(isRunning(out.pid)).toBe(false);
    expect(existsSync(join(repoRoot, file))).toBe(false);
  });

  it("keeps the chain up for other commands until it is interrupted, then leaves nothing behind", async () => {
    const file = privateFile("devnet-wait");
    const child = spawn(
      "node",
      [
        join(repoRoot, "bin/openlora.mjs"),
        "devnet",
        "--port",
        "0",
        "--accounts",
        "2",
        "--deployment-file",
        file,
      ],
      {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    for (let waited = 0; !/Press Ctrl-C/.test(stdout); waited += 100) {
      if (waited > 60_000 || child.exitCode !== null) throw new Error(`devnet did not come up:\n${stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const rpcUrl = /OpenLoRA devnet at (\S+) \(chain 31337, anvil pid (\d+)\)/.exec(stdout);
    expect(rpcUrl).not.toBeNull();
    const pid = Number(rpcUrl?.[2]);
    expect(stdout).toMatch(/funded accounts: 1000000 tUSD and 10000 ETH each/);
    expect(stdout).toMatch(/ {2}1 {2}0x70997970C51812dc3A010C7d01b50e0d17dc79C8 {2}0x59c6995e/);

    const status = await runCli([
      "--json",
      "status",
      "--rpc",
      rpcUrl?.[1] as string,
      "--deployment",
      join(repoRoot, file),
    ]);
    expect(status.code).toBe(0);
    expect(status.json()).toMatchObject({ balance: "1000000000000", modelCount: 0 });

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(isRunning(pid)).toBe(false);
    expect(existsSync(join(repoRoot, file))).toBe(false);
  });
});

/** Starts `openlora devnet` in the background and waits until it serves; returns how to stop it. */
async function backgroundDevnet(): Promise<{ rpcUrl: string; file: string; stop(): Promise<number | null> }> {
  const child = spawn(
    "node",
    [join(repoRoot, "bin/openlora.mjs"), "devnet", "--port", "0", "--accounts", "1"],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  for (let waited = 0; !/Press Ctrl-C/.test(stdout); waited += 100) {
    if (waited > 120_000 || child.exitCode !== null) throw new Error(`devnet did not come up:\n${stdout}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const rpcUrl = /OpenLoRA devnet at (\S+) /.exec(stdout)?.[1] as string;
  const file = /contracts \((\S+)\)/.exec(stdout)?.[1] as string;
  files.push(join(repoRoot, file));
  return {
    rpcUrl,
    file: join(repoRoot, file),
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

describe("devnets side by side", () => {
  it("keeps each devnet's deployments file: a second one stopping removes only its own", async () => {
    const first = await backgroundDevnet();
    try {
      const before = readFileSync(first.file, "utf8");

      const second = await runCli(["--json", "devnet", "--port", "0", "--accounts", "1", "--no-wait"]);
      expect(second.code).toBe(0);
      const secondFile = second.json().deploymentFile as string;
      files.push(secondFile);

      // The first devnet's file survived, unchanged, and commands find it from the RPC alone.
      expect(readFileSync(first.file, "utf8")).toBe(before);
      const status = await runCli(["--json", "status", "--rpc", first.rpcUrl]);
      expect(status.code).toBe(0);
      expect(status.json()).toMatchObject({ modelCount: 0 });
      const port = new URL(first.rpcUrl).port;
      expect(first.file).toBe(join(repoRoot, "deployments", "local", `31337-${port}.json`));
      expect(secondFile).not.toBe(first.file);
      expect(existsSync(secondFile)).toBe(false);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    expect(existsSync(first.file)).toBe(false);
  });
});

describe("openlora devnet advance", () => {
  it("moves the chain's clock forward by a duration and prints the new chain time", async () => {
    const node = await startAnvil();
    try {
      const client = createPublicClient({ transport: http(node.rpcUrl) });
      const before = (await client.getBlock()).timestamp;
      const run = await runCli(["--json", "devnet", "advance", "--time", "7d", "--rpc", node.rpcUrl]);
      expect(run.code).toBe(0);
      const out = run.json() as { timestamp: string; date: string; advancedBy: number };
      const after = (await client.getBlock()).timestamp;
      expect(BigInt(out.timestamp)).toBe(after);
      expect(after - before).toBeGreaterThanOrEqual(7n * 86_400n);
      expect(after - before).toBeLessThan(7n * 86_400n + 60n);
      expect(out.date).toBe(new Date(Number(after) * 1000).toISOString());

      const human = await runCli(["devnet", "advance", "--time", "1h30m", "--rpc", node.rpcUrl]);
      expect(human.code).toBe(0);
      const now = (await client.getBlock()).timestamp;
      const date = new Date(Number(now) * 1000)
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "");
      expect(human.stdout).toBe(
        `moved the clock of ${node.rpcUrl} forward by 1h30m: chain time is now ${date} UTC (block ${await client.getBlockNumber()})\n`,
      );
    } finally {
      await node.stop();
    }
  });

  it("refuses a malformed duration (2) and an unreachable node (3), moving nothing", async () => {
    for (const time of ["1x", "0s", "h", "1h 2m", "-5m"]) {
      const bad = await runCli(["devnet", "advance", "--time", time, "--rpc", "http://127.0.0.1:9"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--time takes a duration such as 90s, 10m, 1h30m, 7d or 2w/);
    }
    const gone = await runCli(["devnet", "advance", "--time", "1h", "--rpc", "http://127.0.0.1:9"]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/cannot reach the chain at http:\/\/127\.0\.0\.1:9/);
  });
});

describe("openlora deploy", () => {
  it("refuses to replace a deployments file whose contracts are live, unless --force, keeping a backup", async () => {
    const node = await startAnvil();
    const key = devAccounts(1)[0]?.privateKey as string;
    const deploy = (...flags: string[]) =>
      runCli(["--json", "deploy", "--rpc", node.rpcUrl, ...flags], { OPENLORA_PRIVATE_KEY: key });
    const port = new URL(node.rpcUrl).port;
    const local = join(repoRoot, "deployments", "local");
    const mine = (f: string) => f.startsWith(`31337-${port}.`);
    try {
      const first = await deploy();
      expect(first.code).toBe(0);
      const file = first.json().deploymentFile as string;
      files.push(file);
      const original = readFileSync(file, "utf8");

      const second = await deploy();
      expect(second.code).toBe(4);
      expect(second.json().error).toMatch(
        new RegExp(
          `31337-${port}\\.json holds a live deployment \\(Settlement 0x[0-9a-fA-F]{40} has code at ${node.rpcUrl.replaceAll(".", "\\.")}\\): not replacing it; pass --force`,
        ),
      );
      expect(readFileSync(file, "utf8")).toBe(original);
      expect(file).toBe(join(local, `31337-${port}.json`));

      const forced = await deploy("--force");
      expect(forced.code).toBe(0);
      const backup = forced.json().backup as string;
      files.push(backup);
      expect(readFileSync(backup, "utf8")).toBe(original);
      expect(JSON.parse(readFileSync(file, "utf8")).settlement).not.toBe(JSON.parse(original).settlement);
      expect(readdirSync(local).filter(mine)).toHaveLength(2);
    } finally {
      await node.stop();
    }
  });

  it("deploys every contract to a running chain with the key from the environment", async () => {
    anvil = await startAnvil();
    const file = privateFile("deploy");
    const key = devAccounts(1)[0]?.privateKey as string;
    const run = await runCli(
      [
        "--json",
        "deploy",
        "--rpc",
        anvil.rpcUrl,
        "--deployment-file",
        file,
        "--profit-unlock-period",
        "3600",
        "--set",
        "CHALLENGE_PERIOD=600",
        "--protocol-fee-bps",
        "250",
      ],
      {
        OPENLORA_PRIVATE_KEY: key,
      },
    );
    expect(run.code).toBe(0);
    const out = run.json() as { deployment: Record<string, unknown> };
    expect(out.deployment).toMatchObject({
      chainId: 31337,
      profitUnlockPeriod: 3600,
      challengePeriod: 600,
      protocolFeeBps: 250,
    });
    const client = createPublicClient({ transport: http(anvil.rpcUrl) });
    expect(
      (await client.getCode({ address: out.deployment.settlement as `0x${string}` }))?.length,
    ).toBeGreaterThan(2);
    expect(run.stderr).not.toContain(key.slice(2));
  });

  it("exits 2 without a key and 3 when the chain is unreachable", async () => {
    const noKey = await runCli(["deploy", "--rpc", "http://127.0.0.1:9"]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/set OPENLORA_PRIVATE_KEY/);
    const badSetting = await runCli(["deploy", "--set", "EVIL=1"], {
      OPENLORA_PRIVATE_KEY: devAccounts(1)[0]?.privateKey as string,
    });
    expect(badSetting.code).toBe(2);
    expect(badSetting.stderr).toMatch(/--set takes NAME=value with NAME one of PAYMENT_ASSET/);
    const dead = await runCli(["deploy", "--rpc", "http://127.0.0.1:9"], {
      OPENLORA_PRIVATE_KEY: devAccounts(1)[0]?.privateKey as string,
    });
    expect(dead.code).toBe(3);
    expect(dead.stderr).toMatch(/cannot reach the chain at http:\/\/127\.0\.0\.1:9/);
  });
});

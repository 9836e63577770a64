import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { erc20Abi } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenLoRAClient } from "../../sdk/client";
import { readDeployment } from "../../sdk/deployments";
import {
  DEV_MNEMONIC,
  DeployError,
  DeploymentExistsError,
  type Devnet,
  deployContracts,
  devAccountAt,
  devAccounts,
  removeDeploymentFileOf,
  startDevnet,
} from "./devnet";

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("devAccountAt", () => {
  it("derives the accounts viem's mnemonicToAccount derives, for any mnemonic", () => {
    const other = "legal winner thank year wave sausage worth useful legal winner thank yellow";
    for (const [mnemonic, index] of [
      [DEV_MNEMONIC, 0],
      [DEV_MNEMONIC, 7],
      [other, 2],
    ] as const) {
      const expected = mnemonicToAccount(mnemonic, { addressIndex: index });
      expect(devAccountAt(index, mnemonic).address).toBe(expected.address);
      expect(devAccountAt(index, mnemonic).getHdKey().privateKey).toEqual(expected.getHdKey().privateKey);
    }
    expect(devAccountAt(0).address).toBe("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  });
});

describe("startDevnet", () => {
  let devnet: Devnet;

  beforeAll(async () => {
    devnet = await startDevnet({ accounts: 4, funding: 5_000_000n });
  });

  afterAll(async () => {
    await devnet?.stop();
  });

  it("deploys every contract with the deploy script and funds the dev accounts", async () => {
    const client = createOpenLoRAClient({ rpcUrl: devnet.rpcUrl, deployment: devnet.deployment });
    const { deployment } = devnet;
    expect(deployment.chainId).toBe(31337);
    for (const name of [
      "paymentAsset",
      "modelRegistry",
      "coTrainingShares",
      "modelVaultFactory",
      "paymentChannels",
      "runnerRegistry",
      "settlement",
    ] as const) {
      const code = await client.publicClient.getCode({ address: deployment[name] });
      expect(code?.length, name).toBeGreaterThan(2);
    }
    expect(devnet.accounts.map((a) => a.address)).toEqual(devAccounts(4).map((a) => a.address));
    expect(devnet.deployer.address).toBe("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    for (const account of devnet.accounts) {
      const balance = await client.publicClient.readContract({
        address: deployment.paymentAsset,
        abi: erc20Abi,
        functionName: "balanceOf",
        args: [account.address],
      });
      expect(balance).toBe(5_000_000n);
    }
  });

  it("leaves no deployments file behind unless asked to keep one", () => {
    expect(devnet.deploymentFile).toBeNull();
    // Only this process's files: other test files start devnets of their own in parallel.
    const mine = `.devnet-${process.pid}-`;
    expect(readdirSync("deployments").filter((f) => f.startsWith(mine))).toEqual([]);
  });

  it("reports a failed deployment with forge's output, and never prints the key", async () => {
    const { privateKey } = devAccounts(1)[0] as { privateKey: `0x${string}` };
    const error = await deployContracts({
      rpcUrl: "http://127.0.0.1:9",
      privateKey,
      deploymentFile: "deployments/.never.json",
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).message).toMatch(/forge script script\/Deploy\.s\.sol failed/);
    expect(JSON.stringify((error as DeployError).details)).not.toContain(privateKey.slice(2));
    expect(existsSync("deployments/.never.json")).toBe(false);
  });

  it("stops a deploy that does not finish in time", async () => {
    const { privateKey } = devAccounts(1)[0] as { privateKey: `0x${string}` };
    const error = await deployContracts({ rpcUrl: devnet.rpcUrl, privateKey, timeoutMs: 50 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).message).toMatch(/did not finish within 50 ms/);
  });

  it("refuses a deployments file outside deployments/", async () => {
    await expect(
      deployContracts({
        rpcUrl: devnet.rpcUrl,
        privateKey: devnet.deployer.privateKey,
        deploymentFile: path.join(os.tmpdir(), "x.json"),
      }),
    ).rejects.toThrow(/must be inside deployments\//);
  });

  it("replaces a deployments file whose own devnet is gone, and removes only a devnet's own file", async () => {
    const file = `deployments/local/.gone-${process.pid}.json`;
    const absolute = path.resolve(file);
    mkdirSync(path.dirname(absolute), { recursive: true });
    const nowhere = `0x${"de".repeat(20)}`;
    const addresses = Object.fromEntries(
      [
        "paymentAsset",
        "modelRegistry",
        "coTrainingShares",
        "modelVaultFactory",
        "paymentChannels",
        "runnerRegistry",
        "settlement",
      ].map((k) => [k, nowhere]),
    );
    // Written by a devnet on port 9, long stopped: nothing answers there.
    writeFileSync(absolute, JSON.stringify({ chainId: 31337, ...addresses, rpcUrl: "http://127.0.0.1:9" }));
    try {
      const { deployment, backup } = await deployContracts({
        rpcUrl: devnet.rpcUrl,
        privateKey: devnet.deployer.privateKey,
        deploymentFile: file,
      });
      expect(backup).toBeNull();
      expect(readDeployment(absolute)).toMatchObject({
        settlement: deployment.settlement,
        rpcUrl: devnet.rpcUrl,
      });

      // Its contracts are live now: replacing the file takes --force.
      await expect(
        deployContracts({
          rpcUrl: devnet.rpcUrl,
          privateKey: devnet.deployer.privateKey,
          deploymentFile: file,
        }),
      ).rejects.toBeInstanceOf(DeploymentExistsError);

      // A devnet whose file another deploy replaced leaves that file alone; its own it removes.
      const other = {
        deploymentFile: absolute,
        rpcUrl: devnet.rpcUrl,
        deployment: { ...deployment, settlement: nowhere },
      };
      removeDeploymentFileOf(other as Parameters<typeof removeDeploymentFileOf>[0]);
      expect(existsSync(absolute)).toBe(true);
      removeDeploymentFileOf({ deploymentFile: absolute, rpcUrl: devnet.rpcUrl, deployment });
      expect(existsSync(absolute)).toBe(false);

      // A file of a devnet that crashed, its port now serving a new chain without its contracts.
      writeFileSync(absolute, JSON.stringify({ chainId: 31337, ...addresses, rpcUrl: devnet.rpcUrl }));
      const again = await deployContracts({
        rpcUrl: devnet.rpcUrl,
        privateKey: devnet.deployer.privateKey,
        deploymentFile: file,
      });
      expect(again.backup).toBeNull();
    } finally {
      rmSync(absolute, { force: true });
    }
  });

  it("stops anvil by its process id", async () => {
    const { pid } = devnet;
    expect(isRunning(pid)).toBe(true);
    await devnet.stop();
    expect(isRunning(pid)).toBe(false);
  });
});

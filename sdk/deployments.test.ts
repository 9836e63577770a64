import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  DeploymentError,
  deploymentPathFor,
  findDeploymentFile,
  localPort,
  readDeployment,
} from "./deployments";

const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-deployments-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const names = [
  "paymentAsset",
  "modelRegistry",
  "coTrainingShares",
  "modelVaultFactory",
  "paymentChannels",
  "runnerRegistry",
  "settlement",
];
const complete = Object.fromEntries([
  ["chainId", 31337],
  ...names.map((name, i) => [name, `0x${(i + 1).toString(16).padStart(40, "a")}`]),
]);

function write(content: unknown): string {
  const file = path.join(dir, `${Math.random()}.json`);
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

describe("readDeployment", () => {
  it("reads every address, checksummed, and keeps extra keys", () => {
    const deployment = readDeployment(write({ ...complete, treasury: "x" }));
    expect(deployment.chainId).toBe(31337);
    expect(deployment.settlement).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(deployment.treasury).toBe("x");
  });

  it("names what is missing or malformed", () => {
    const { settlement: _, ...missing } = complete;
    expect(() => readDeployment(write({ ...missing, modelRegistry: "0x12" }))).toThrow(
      /settlement: .*; |modelRegistry: must be an address/,
    );
    expect(() => readDeployment(write("{"))).toThrow(DeploymentError);
    expect(() => readDeployment(path.join(dir, "absent.json"))).toThrow(/cannot read the deployments file/);
  });
});

describe("where a deployment lives", () => {
  it("keys a node on this machine by its port, any other by its chain id alone", () => {
    expect(deploymentPathFor(31337, "http://127.0.0.1:8545", "d")).toBe(
      path.join("d", "local", "31337-8545.json"),
    );
    expect(deploymentPathFor(31337, "http://localhost:9000/", "d")).toBe(
      path.join("d", "local", "31337-9000.json"),
    );
    expect(deploymentPathFor(8453, "https://rpc.example.org/key", "d")).toBe(path.join("d", "8453.json"));
    expect(localPort("http://[::1]:8546")).toBe(8546);
    expect(localPort("not a url")).toBeNull();
  });

  it("reads a local node's own file when it has one, else the chain's", () => {
    const root = mkdtempSync(path.join(dir, "find-"));
    expect(findDeploymentFile(31337, "http://127.0.0.1:8545", root)).toBe(path.join(root, "31337.json"));
    mkdirSync(path.join(root, "local"));
    writeFileSync(path.join(root, "local", "31337-8545.json"), "{}");
    expect(findDeploymentFile(31337, "http://127.0.0.1:8545", root)).toBe(
      path.join(root, "local", "31337-8545.json"),
    );
    expect(findDeploymentFile(31337, "http://127.0.0.1:8546", root)).toBe(path.join(root, "31337.json"));
  });
});

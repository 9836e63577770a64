import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DeploymentError, readDeployment } from "./deployments";

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

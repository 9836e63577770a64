/**
 * The deployments file `deployments/<chainId>.json` that `script/Deploy.s.sol` writes: the
 * proxy addresses of one OpenLoRA deployment. The SDK, the runner and the CLI read it. A node on
 * this machine (a devnet) has its own, `deployments/local/<chainId>-<port>.json`: several can run
 * side by side with one chain id, and each must keep its own addresses.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { getAddress } from "viem";
import { z } from "zod";

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be an address")
  .transform((a) => getAddress(a));

export const deploymentSchema = z.object({
  chainId: z.coerce.number().int().positive(),
  paymentAsset: address,
  modelRegistry: address,
  coTrainingShares: address,
  modelVaultFactory: address,
  paymentChannels: address,
  runnerRegistry: address,
  settlement: address,
  /** The block the deployment started at: where log scans begin. */
  startBlock: z.coerce.number().int().nonnegative().optional(),
});

export type Deployment = z.output<typeof deploymentSchema> & { [name: string]: unknown };

export class DeploymentError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "DeploymentError";
  }
}

export function deploymentPath(chainId: number, dir = "deployments"): string {
  return path.join(dir, `${chainId}.json`);
}

/** The port of an RPC URL on this machine (loopback), or null for any other host. */
export function localPort(rpcUrl: string): number | null {
  let url: URL;
  try {
    url = new URL(rpcUrl);
  } catch {
    return null;
  }
  if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) return null;
  return Number(url.port || (url.protocol === "https:" ? 443 : 80));
}

/** Where a deployment made through `rpcUrl` is written: keyed by port for a node on this machine. */
export function deploymentPathFor(chainId: number, rpcUrl: string, dir = "deployments"): string {
  const port = localPort(rpcUrl);
  return port === null ? deploymentPath(chainId, dir) : path.join(dir, "local", `${chainId}-${port}.json`);
}

/**
 * Where to read the deployment of the node at `rpcUrl`: its own file when it is on this machine
 * and has one, else `<dir>/<chainId>.json`.
 */
export function findDeploymentFile(chainId: number, rpcUrl: string, dir = "deployments"): string {
  const own = deploymentPathFor(chainId, rpcUrl, dir);
  return existsSync(own) ? own : deploymentPath(chainId, dir);
}

/** Reads and validates a deployments file; names every missing or malformed address. */
export function readDeployment(file: string): Deployment {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new DeploymentError(`cannot read the deployments file ${file}: ${(error as Error).message}`, {
      file,
    });
  }
  const parsed = deploymentSchema.loose().safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new DeploymentError(`invalid deployments file ${file}: ${issues.join("; ")}`, { file, issues });
  }
  return parsed.data as Deployment;
}

/**
 * The deployments file `deployments/<chainId>.json` that `script/Deploy.s.sol` writes: the
 * proxy addresses of one OpenLoRA deployment. The SDK, the runner and the CLI read it.
 */
import { readFileSync } from "node:fs";
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

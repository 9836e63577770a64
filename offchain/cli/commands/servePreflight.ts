/**
 * What `openlora serve` checks before it starts a runner, so that what would fail later (a call
 * for an adapter no model uses, a settlement by a key that is not a staked runner, a port taken)
 * is refused at start with the command that fixes it.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { createPublicClient, type Hex, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createOpenLoRAClient, type OpenLoRAClient } from "../../../sdk/client";
import { findDeploymentFile, readDeployment } from "../../../sdk/deployments";
import { modelIdByAdapterHash } from "../../../sdk/integrator/models";
import { getRunner, minBond } from "../../../sdk/runners";
import { contentHash } from "../../ml/hash";
import { adapterFileOf } from "../../runner/adapterSource";
import type { RunnerConfig } from "../../runner/config";
import { CliError, ExitCode } from "../errors";
import { amountFormatter, repoRoot } from "./chainOptions";

/**
 * Refuses a runner configuration that could start but not serve or settle what it was given;
 * returns the deployments file it read, for the runner to read too.
 */
export async function preflight(config: RunnerConfig): Promise<{ deploymentFile: string }> {
  for (const source of config.adapters) {
    if (!existsSync(adapterFileOf(source)))
      throw new CliError(`adapter file not found: ${adapterFileOf(source)}`, ExitCode.usage, { source });
  }
  const { client, deploymentFile } = await chainClient(config);
  const endpoint = config.port === 0 ? "<this runner's URL>" : `http://${config.host}:${config.port}`;
  await assertRunnerActive(client, privateKeyToAccount(config.privateKey as Hex).address, endpoint);
  for (const source of config.adapters) {
    const hash = contentHash(readFileSync(adapterFileOf(source)));
    if ((await modelIdByAdapterHash(client, hash)) === null) {
      throw new CliError(
        `adapter ${source} (${hash}) is not registered on-chain: register it first with \`openlora register ${source}\``,
        ExitCode.usage,
        { source, adapterHash: hash },
      );
    }
  }
  await assertPortFree(config.host, config.port);
  return { deploymentFile };
}

async function chainClient(
  config: RunnerConfig,
): Promise<{ client: OpenLoRAClient; deploymentFile: string }> {
  let chainId: number;
  try {
    chainId = await createPublicClient({
      transport: http(config.rpcUrl, { retryCount: 0, timeout: 10_000 }),
    }).getChainId();
  } catch {
    throw new CliError(`cannot reach the chain at ${config.rpcUrl}`, ExitCode.unreachable, {
      rpcUrl: config.rpcUrl,
    });
  }
  // The node's file in the project's deployments/, as every other command finds it, from any
  // working directory.
  const deploymentFile =
    config.deployments ?? findDeploymentFile(chainId, config.rpcUrl, path.join(repoRoot, "deployments"));
  const deployment = readDeployment(deploymentFile);
  if (deployment.chainId !== chainId) {
    throw new CliError(
      `the deployments file is for chain ${deployment.chainId}, the node at ${config.rpcUrl} runs chain ${chainId}`,
      ExitCode.usage,
    );
  }
  return { client: createOpenLoRAClient({ rpcUrl: config.rpcUrl, deployment }), deploymentFile };
}

async function assertRunnerActive(client: OpenLoRAClient, runner: Hex, endpoint: string): Promise<void> {
  const info = await getRunner(client, runner);
  if (info.active) return;
  const fix = `OPENLORA_PRIVATE_KEY=$OPENLORA_RUNNER_KEY openlora runner register --endpoint ${endpoint}`;
  if (!info.registered) {
    throw new CliError(
      `runner ${runner} (OPENLORA_RUNNER_KEY) is not registered: its settlements would fail. Register it first: ${fix}`,
      ExitCode.usage,
      { runner },
    );
  }
  const fmt = await amountFormatter(client);
  throw new CliError(
    `runner ${runner} is registered but not active (bond ${fmt(info.bond)}, the minimum is ${fmt(await minBond(client))}): its settlements would fail`,
    ExitCode.usage,
    { runner },
  );
}

/** A taken port is named now, rather than after the runner has loaded its models. */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => reject(portError(error, host, port)));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** The CliError of a listen that failed for its port (in use, not allowed), else the error itself. */
export function portError(error: NodeJS.ErrnoException, host: string, port: number): unknown {
  if (error.code === "EADDRINUSE")
    return new CliError(
      `port ${port} on ${host} is in use: stop what holds it, or pass another --port`,
      ExitCode.usage,
      {
        host,
        port,
      },
    );
  if (error.code === "EACCES")
    return new CliError(
      `port ${port} on ${host} is not allowed to this user: pass a port above 1023`,
      ExitCode.usage,
      {
        host,
        port,
      },
    );
  return error;
}

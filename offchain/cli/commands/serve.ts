/**
 * `openlora serve`: runs a runner until SIGINT/SIGTERM, then shuts down gracefully (drain,
 * settle, flush). Configuration: --config FILE < OPENLORA_* environment < flags; the runner's
 * key comes from OPENLORA_RUNNER_KEY.
 */
import type { Command } from "commander";
import { DeploymentError } from "../../../sdk/deployments";
import { ConfigError, loadRunnerConfig } from "../../runner/config";
import { DataDirLockedError } from "../../runner/dataDirLock";
import { CliError, ExitCode } from "../errors";
import { asCliError, DEPLOYMENT_ENV, RPC_ENV } from "./chainOptions";
import { portError, preflight } from "./servePreflight";

interface ServeOptions {
  config?: string;
  rpc?: string;
  deployments?: string;
  host?: string;
  port?: string;
  dataDir?: string;
  adapters?: string[];
  models?: string;
  settleIntervalMs?: string;
  base?: string;
}

function flags(options: ServeOptions): Record<string, unknown> {
  return {
    rpcUrl: options.rpc,
    deployments: options.deployments,
    host: options.host,
    port: options.port,
    dataDir: options.dataDir,
    adapters: options.adapters,
    base: options.base,
    models:
      options.models === undefined || options.models === "all" ? options.models : options.models.split(","),
    settlement: options.settleIntervalMs ? { intervalMs: options.settleIntervalMs } : undefined,
  };
}

/**
 * The environment as the runner's configuration reads it, with the chain settings that every
 * other command reads ($OPENLORA_RPC, $OPENLORA_DEPLOYMENT) under the runner's own names.
 */
export function runnerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    OPENLORA_RPC_URL: env.OPENLORA_RPC_URL ?? env[RPC_ENV],
    OPENLORA_DEPLOYMENTS: env.OPENLORA_DEPLOYMENTS ?? env[DEPLOYMENT_ENV],
  };
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("serve registered adapters over HTTP, paid per call, and settle on-chain")
    .option("--config <file>", "JSON configuration file")
    .option("--rpc <url>", `JSON-RPC endpoint of the chain (default: $${RPC_ENV} or http://127.0.0.1:8545)`)
    .option(
      "--deployments <file>",
      `deployments file (default: $${DEPLOYMENT_ENV}, or the local node's deployments/local/<chainId>-<port>.json, else deployments/<chainId>.json)`,
    )
    .option("--host <host>", "address to listen on")
    .option("--port <port>", "port to listen on (0: any free port)")
    .option("--data-dir <dir>", "journal and adapter store")
    .option("--adapters <path...>", "adapter files or trained adapter directories to serve")
    .option("--base <name>", "base model to serve: lande (default) or use-lite (PEFT adapters on USE-lite)")
    .option("--models <ids>", "comma-separated model ids to serve, or all")
    .option("--settle-interval-ms <ms>", "settle at most this often (the settlement policy's interval)")
    .action(async (options: ServeOptions) => {
      // Loaded here, not at startup: onnxruntime and the runner are for this command only.
      const { RunnerStartError, startRunner } = await import("../../runner/runner");
      let runner: Awaited<ReturnType<typeof startRunner>>;
      try {
        const config = loadRunnerConfig({
          file: options.config,
          env: runnerEnv(process.env),
          flags: flags(options),
        });
        const { deploymentFile } = await preflight(config);
        runner = await startRunner({ ...config, deployments: deploymentFile }).catch(
          (error: NodeJS.ErrnoException) => {
            throw portError(error, config.host, config.port);
          },
        );
      } catch (error) {
        if (error instanceof CliError) throw error;
        if (error instanceof ConfigError || error instanceof DeploymentError) {
          throw new CliError(error.message, ExitCode.usage);
        }
        if (error instanceof DataDirLockedError) {
          throw new CliError(error.message, ExitCode.usage, { dataDir: error.dataDir, pid: error.pid });
        }
        if (error instanceof RunnerStartError)
          // With a cause, the chain did not answer; without, what it answered will not do.
          throw new CliError(error.message, error.cause ? ExitCode.unreachable : ExitCode.usage);
        throw asCliError(error);
      }
      if (program.opts().json)
        console.log(
          JSON.stringify({
            url: runner.url,
            dashboard: `${runner.url}/dashboard`,
            runner: runner.address,
            chainId: runner.chainId,
          }),
        );
      else {
        console.error(`openlora: serving at ${runner.url} as ${runner.address} on chain ${runner.chainId}`);
        console.error(`openlora: live dashboard at ${runner.url}/dashboard`);
      }
      await new Promise<void>((resolve) => {
        const shutdown = () => {
          process.off("SIGINT", shutdown);
          process.off("SIGTERM", shutdown);
          runner.stop().finally(resolve);
        };
        process.on("SIGINT", shutdown);
        process.on("SIGTERM", shutdown);
      });
    });
}

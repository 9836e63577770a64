import { type ChildProcess, spawn } from "node:child_process";
import { foundryBinary } from "./foundryBinary";

export interface AnvilOptions {
  /** Port to listen on; 0 (the default) lets the OS pick a free one. */
  port?: number;
  chainId?: number;
  /** Seconds between blocks; by default a block is mined per transaction. */
  blockTime?: number;
  /** Funded dev accounts to create. */
  accounts?: number;
  /** Milliseconds to wait for the node to answer eth_chainId. */
  startTimeoutMs?: number;
}

export interface Anvil {
  rpcUrl: string;
  chainId: number;
  pid: number;
  /** Stops the node by its process id and waits for it to exit. */
  stop(): Promise<void>;
}

export class AnvilStartError extends Error {
  constructor(
    message: string,
    readonly details: { output: string },
  ) {
    super(message);
    this.name = "AnvilStartError";
  }
}

const LISTENING = /Listening on (\S+):(\d+)/;

/** Starts a local anvil node and resolves once it answers JSON-RPC. */
export async function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const chainId = options.chainId ?? 31337;
  const args = ["--port", String(options.port ?? 0), "--chain-id", String(chainId)];
  args.push("--accounts", String(options.accounts ?? 10));
  if (options.blockTime !== undefined) args.push("--block-time", String(options.blockTime));

  const child = spawn(foundryBinary("anvil"), args, { stdio: ["ignore", "pipe", "pipe"] });
  const { host, port, output } = await waitForListening(child, options.startTimeoutMs ?? 15_000);
  const rpcUrl = `http://${host}:${port}`;
  const stop = () => stopProcess(child);
  try {
    await waitForRpc(rpcUrl, chainId, options.startTimeoutMs ?? 15_000);
  } catch (error) {
    await stop();
    throw new AnvilStartError(`anvil did not answer at ${rpcUrl}: ${(error as Error).message}`, { output });
  }
  return { rpcUrl, chainId, pid: child.pid as number, stop };
}

function waitForListening(child: ChildProcess, timeoutMs: number) {
  return new Promise<{ host: string; port: number; output: string }>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new AnvilStartError(`anvil did not start within ${timeoutMs} ms`, { output }));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = LISTENING.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stdout?.resume(); // keep draining so anvil never blocks on a full pipe
      resolve({ host: match[1] as string, port: Number(match[2]), output });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new AnvilStartError(`anvil could not be started: ${error.message}`, { output }));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new AnvilStartError(`anvil exited during start (code ${code}, signal ${signal})`, { output }));
    });
  });
}

async function waitForRpc(rpcUrl: string, chainId: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      const body = (await response.json()) as { result?: string };
      if (Number(body.result) === chainId) return;
      lastError = new Error(`eth_chainId returned ${body.result}, expected ${chainId}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** Sends SIGTERM to the process by pid, then SIGKILL if it has not exited after 5 s. */
function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => process.kill(child.pid as number, "SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    process.kill(child.pid as number, "SIGTERM");
  });
}

/**
 * A local OpenLoRA chain in one call: starts anvil, runs script/Deploy.s.sol against it with forge,
 * reads the deployment it wrote, and funds the dev accounts with the payment asset (TestUSD).
 * Used by `openlora devnet`, by tests and by the demo; `stop()` leaves nothing running.
 */
import { spawn } from "node:child_process";
import { pbkdf2Sync } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Address,
  createPublicClient,
  createTestClient,
  type Hex,
  http,
  isAddressEqual,
  toHex,
} from "viem";
import { type HDAccount, HDKey, hdKeyToAccount } from "viem/accounts";
import { createOpenLoRAClient } from "../../sdk/client";
import { type Deployment, deploymentPathFor, localPort, readDeployment } from "../../sdk/deployments";
import { testUsdAbi } from "../../sdk/generated/abis";
import { type Anvil, startAnvil } from "./anvil";
import { foundryBinary } from "./foundryBinary";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** anvil's default mnemonic: its dev accounts are public knowledge, for local chains only. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** tUSD minted to every dev account by default (6 decimals: 1,000,000 tUSD). */
export const DEFAULT_FUNDING = 1_000_000_000_000n;

/**
 * The periods `openlora devnet` deploys with, so that a model's whole life (a channel closed,
 * vault revenue unlocked, a bond withdrawn) can be tried in minutes with `devnet advance`: the
 * contracts' minimums (PaymentChannels.MIN_CHALLENGE_PERIOD, ModelVaultFactory.MIN_UNLOCK_PERIOD,
 * RunnerRegistry.MIN_UNBONDING_DELAY), in seconds. The deploy script's own defaults are 1 day,
 * 7 days and 7 days.
 */
export const DEVNET_PERIODS = {
  CHALLENGE_PERIOD: 600,
  PROFIT_UNLOCK_PERIOD: 3_600,
  UNBONDING_DELAY: 3_600,
} as const;

export interface DevAccount {
  index: number;
  address: Address;
  privateKey: Hex;
}

export class DeployError extends Error {
  constructor(
    message: string,
    readonly details: { output?: string; file?: string; code?: number | null } = {},
  ) {
    super(message);
    this.name = "DeployError";
  }
}

/** A deployments file still names contracts that are live on their chain: replacing it loses them. */
export class DeploymentExistsError extends DeployError {
  constructor(
    readonly file: string,
    readonly settlement: Address,
    /** Where its Settlement has code; null when no node of its chain answered to tell. */
    readonly liveAt: string | null,
  ) {
    const name = path.relative(process.cwd(), file) || file;
    super(
      `${liveAt ? `${name} holds a live deployment (Settlement ${settlement} has code at ${liveAt})` : `${name} may hold a live deployment (no node of its chain answered to tell)`}: not replacing it; pass --force to replace it (a backup is kept)`,
      { file },
    );
    this.name = "DeploymentExistsError";
  }
}

const masterKeys = new Map<string, HDKey>();
const hdAccounts = new Map<string, HDAccount>();

/**
 * The account at m/44'/60'/0'/0/`index` of a mnemonic, as viem's `mnemonicToAccount` derives it,
 * but with the BIP-39 seed from node's native PBKDF2, once per mnemonic, and each account once:
 * viem's pure-JS seed takes ~140 ms per account, which every test and benchmark setup paid.
 */
export function devAccountAt(index: number, mnemonic = DEV_MNEMONIC): HDAccount {
  const key = `${index}:${mnemonic}`;
  let account = hdAccounts.get(key);
  if (!account) {
    let master = masterKeys.get(mnemonic);
    if (!master) {
      master = HDKey.fromMasterSeed(pbkdf2Sync(mnemonic.normalize("NFKD"), "mnemonic", 2048, 64, "sha512"));
      masterKeys.set(mnemonic, master);
    }
    account = hdKeyToAccount(master, { addressIndex: index });
    hdAccounts.set(key, account);
  }
  return account;
}

/** The first `count` accounts of the dev mnemonic (anvil funds them with ETH). */
export function devAccounts(count: number, mnemonic = DEV_MNEMONIC): DevAccount[] {
  return Array.from({ length: count }, (_, index) => {
    const account = devAccountAt(index, mnemonic);
    const key = account.getHdKey().privateKey;
    if (!key) throw new Error(`no private key for dev account ${index}`);
    return { index, address: account.address, privateKey: toHex(key) };
  });
}

export interface DeployOptions {
  rpcUrl: string;
  /** The deployer's key; it holds every role unless ADMIN is set in `env`. */
  privateKey: Hex;
  /**
   * Where the script writes the addresses, relative to the repository root and inside
   * `deployments/` (forge may write only there). Default: deployments/<chainId>.json, or
   * deployments/local/<chainId>-<port>.json for a node on this machine.
   */
  deploymentFile?: string;
  /** Replace a deployments file whose contracts are still live (a backup copy is kept). */
  force?: boolean;
  /** Extra environment for the script: PAYMENT_ASSET, ADMIN, PROFIT_UNLOCK_PERIOD, ... */
  env?: Record<string, string>;
  /** Told of forge's progress lines. */
  onOutput?(line: string): void;
  /** How long the deploy may take before forge is stopped (default 3 minutes). */
  timeoutMs?: number;
}

const DEPLOY_TIMEOUT_MS = 180_000;

/** Runs `forge script script/Deploy.s.sol --broadcast` against `rpcUrl` and reads what it wrote. */
export async function deployContracts(
  options: DeployOptions,
): Promise<{ deployment: Deployment; file: string; backup: string | null }> {
  const file = options.deploymentFile ?? deploymentPathFor(await chainIdAt(options.rpcUrl), options.rpcUrl);
  const relative = path.relative(path.join(repoRoot, "deployments"), path.resolve(repoRoot, file));
  if (relative.startsWith("..") || path.isAbsolute(relative)) {
    throw new DeployError(
      `the deployment file must be inside deployments/ (forge may write only there): ${file}`,
      {
        file,
      },
    );
  }
  const absolute = path.resolve(repoRoot, file);
  const backup = await guardExisting(absolute, options.rpcUrl, options.force ?? false);
  mkdirSync(path.dirname(absolute), { recursive: true });
  const args = [
    "script",
    "script/Deploy.s.sol",
    "--rpc-url",
    options.rpcUrl,
    "--private-key",
    options.privateKey,
    "--broadcast",
    // One transaction at a time, each after the previous one's receipt: forge otherwise sends
    // them all at once, and anvil's automine can leave out-of-order arrivals queued forever
    // (foundry-rs/foundry#10122), which hung a deploy.
    "--slow",
  ];
  const env = { ...process.env, ...options.env, DEPLOYMENT_FILE: file };
  // The key travels on forge's command line; never in our messages.
  const { code, output } = await run(
    foundryBinary("forge"),
    args,
    env,
    options.timeoutMs ?? DEPLOY_TIMEOUT_MS,
    options.onOutput,
  );
  const printable = output.replaceAll(options.privateKey, "<private key>");
  if (code !== 0) {
    throw new DeployError(`forge script script/Deploy.s.sol failed (exit code ${code})`, {
      output: tail(printable),
      code,
    });
  }
  if (!existsSync(absolute)) {
    throw new DeployError(`the deploy script did not write ${file}`, {
      output: tail(printable),
      file,
    });
  }
  // A local node's URL goes into its file, so that a later deploy can tell whether the contracts
  // it names are still live. Remote URLs are left out: they may carry an API key.
  if (localPort(options.rpcUrl) !== null) {
    const json = JSON.parse(readFileSync(absolute, "utf8")) as Record<string, unknown>;
    writeFileSync(absolute, `${JSON.stringify({ ...json, rpcUrl: options.rpcUrl }, null, 2)}\n`);
  }
  return { deployment: readDeployment(absolute), file: absolute, backup };
}

async function chainIdAt(rpcUrl: string): Promise<number> {
  try {
    return await rpcClient(rpcUrl).getChainId();
  } catch (error) {
    throw new DeployError(`cannot reach the chain at ${rpcUrl}: ${(error as Error).message.split("\n")[0]}`);
  }
}

function rpcClient(rpcUrl: string) {
  return createPublicClient({ transport: http(rpcUrl, { retryCount: 0, timeout: 5_000 }) });
}

/**
 * Before a deployments file is replaced: refuses, unless `force`, when the contracts it names are
 * live (their Settlement has code on its chain) or when no node could tell; keeps a copy of it
 * unless its own node (a devnet on this machine) is gone, taking its contracts with it.
 */
async function guardExisting(file: string, rpcUrl: string, force: boolean): Promise<string | null> {
  if (!existsSync(file)) return null;
  let existing: Deployment | null = null;
  try {
    existing = readDeployment(file);
  } catch {
    // not a deployments file we can read: keep a copy, it may matter to someone
  }
  const state: Liveness = existing ? await liveness(existing, rpcUrl) : { dead: true };
  if (existing && !force) {
    if ("live" in state) throw new DeploymentExistsError(file, existing.settlement, state.live);
    if ("unknown" in state) throw new DeploymentExistsError(file, existing.settlement, null);
  }
  if ("gone" in state) return null;
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const backup = `${file.replace(/\.json$/, "")}.${stamp}.bak.json`;
  copyFileSync(file, backup);
  return backup;
}

/**
 * live: its Settlement has code at that URL; gone: its own node on this machine no longer
 * answers, runs another chain, or has no such contract (a new chain on its port); dead: another
 * node of its chain answered without that code; unknown: no node of its chain answered.
 */
type Liveness = { live: string } | { gone: true } | { dead: true } | { unknown: true };

/** Asks the node the file names (a local one), then the node being deployed to. */
async function liveness(deployment: Deployment, rpcUrl: string): Promise<Liveness> {
  const own = typeof deployment.rpcUrl === "string" ? deployment.rpcUrl : null;
  let verdict: Liveness = { unknown: true };
  for (const url of own && own !== rpcUrl ? [own, rpcUrl] : [rpcUrl]) {
    const ownLocal = url === own && localPort(url) !== null;
    try {
      const client = rpcClient(url);
      if ((await client.getChainId()) !== deployment.chainId) {
        if (ownLocal) verdict = { gone: true };
        continue;
      }
      const code = await client.getCode({ address: deployment.settlement });
      if (code !== undefined && code !== "0x") return { live: url };
      // Its own port answering without its contracts is a new chain there: the old one is gone.
      if (ownLocal) verdict = { gone: true };
      else if (!("gone" in verdict)) verdict = { dead: true };
    } catch {
      if (ownLocal) verdict = { gone: true };
    }
  }
  return verdict;
}

/**
 * Removes a devnet's deployments file, but only while it still names this devnet's contracts:
 * a file that another deploy has since replaced is left alone.
 */
export function removeDeploymentFileOf(
  devnet: Pick<Devnet, "deploymentFile" | "deployment" | "rpcUrl">,
): void {
  const file = devnet.deploymentFile;
  if (!file || !existsSync(file)) return;
  try {
    const current = readDeployment(file);
    if (!isAddressEqual(current.settlement, devnet.deployment.settlement) || current.rpcUrl !== devnet.rpcUrl)
      return;
  } catch {
    return;
  }
  rmSync(file, { force: true });
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Runs a command to its end, or kills it after `timeoutMs` and rejects with a DeployError. */
function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  onOutput?: (line: string) => void,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new DeployError(`${path.basename(command)} did not finish within ${timeoutMs} ms; stopped it`));
    }, timeoutMs);
    let output = "";
    let pending = "";
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      if (!onOutput) return;
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) onOutput(line);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new DeployError(`cannot run forge: ${error.message}`));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export interface DevnetOptions {
  /** anvil's port; 0 (default) picks a free one. */
  port?: number;
  chainId?: number;
  /** Dev accounts to create and fund (default 10). Account 0 deploys and holds every role. */
  accounts?: number;
  /** tUSD (base units) minted to every dev account; 0 mints none. */
  funding?: bigint;
  /** Seconds between blocks; by default a block per transaction. */
  blockTime?: number;
  /**
   * Keep the deployments file at this path (inside deployments/). By default the script writes a
   * private file that is read and removed, so parallel devnets never clash.
   */
  deploymentFile?: string;
  /** Keep the deployments file at this node's own path, deployments/local/<chainId>-<port>.json. */
  keepDeploymentFile?: boolean;
  /** Replace a kept deployments file even if the contracts it names are live elsewhere (a backup is kept). */
  force?: boolean;
  /** Extra environment for the deploy script (PROFIT_UNLOCK_PERIOD, ...). */
  env?: Record<string, string>;
  onOutput?(line: string): void;
}

export interface Devnet {
  rpcUrl: string;
  chainId: number;
  /** anvil's process id. */
  pid: number;
  deployment: Deployment;
  /** The deployments file, when one was kept. */
  deploymentFile: string | null;
  accounts: DevAccount[];
  /** Account 0: deployed the contracts, holds every role, owns TestUSD. */
  deployer: DevAccount;
  funding: bigint;
  /** Stops anvil by its process id (and removes nothing else: the kept file stays; see removeDeploymentFileOf). */
  stop(): Promise<void>;
}

let privateFiles = 0;

/** Starts anvil, deploys every contract with the deploy script, and funds the dev accounts. */
export async function startDevnet(options: DevnetOptions = {}): Promise<Devnet> {
  const count = options.accounts ?? 10;
  if (!Number.isInteger(count) || count < 1) throw new DeployError(`a devnet needs at least one account`);
  const anvil: Anvil = await startAnvil({
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.chainId !== undefined ? { chainId: options.chainId } : {}),
    ...(options.blockTime !== undefined ? { blockTime: options.blockTime } : {}),
    accounts: Math.max(count, 10),
  });
  const keep = options.deploymentFile ?? options.keepDeploymentFile === true;
  const file =
    typeof keep === "string"
      ? keep
      : keep
        ? deploymentPathFor(anvil.chainId, anvil.rpcUrl)
        : path.join("deployments", `.devnet-${process.pid}-${Date.now()}-${privateFiles++}.json`);
  let kept: Pick<Devnet, "deploymentFile" | "deployment" | "rpcUrl"> | null = null;
  try {
    const accounts = devAccounts(count);
    const deployer = accounts[0] as DevAccount;
    const { deployment, file: written } = await deployContracts({
      rpcUrl: anvil.rpcUrl,
      privateKey: deployer.privateKey,
      deploymentFile: file,
      ...(options.force ? { force: true } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.onOutput ? { onOutput: options.onOutput } : {}),
    });
    if (!keep) rmSync(written, { force: true });
    else kept = { deploymentFile: written, deployment, rpcUrl: anvil.rpcUrl };
    const funding = options.funding ?? DEFAULT_FUNDING;
    if (funding > 0n) await fund(anvil.rpcUrl, deployment, deployer, accounts, funding);
    return {
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId,
      pid: anvil.pid,
      deployment,
      deploymentFile: keep ? written : null,
      accounts,
      deployer,
      funding,
      stop: () => anvil.stop(),
    };
  } catch (error) {
    if (!keep) rmSync(path.resolve(repoRoot, file), { force: true });
    if (kept) removeDeploymentFileOf(kept);
    await anvil.stop();
    throw error;
  }
}

/** Mints `amount` of TestUSD to every account: one transaction each, sent back to back. */
async function fund(
  rpcUrl: string,
  deployment: Deployment,
  deployer: DevAccount,
  accounts: DevAccount[],
  amount: bigint,
): Promise<void> {
  const client = createOpenLoRAClient({ rpcUrl, deployment, account: deployer.privateKey });
  const wallet = client.walletClient;
  if (!wallet) throw new Error("unreachable: the client has an account");
  let nonce = await client.publicClient.getTransactionCount({
    address: deployer.address,
    blockTag: "pending",
  });
  const hashes: Hex[] = [];
  for (const account of accounts) {
    hashes.push(
      await wallet.writeContract({
        address: deployment.paymentAsset,
        abi: testUsdAbi,
        functionName: "mint",
        args: [account.address, amount],
        nonce: nonce++,
        gas: 100_000n,
      }),
    );
  }
  for (const hash of hashes) {
    const receipt = await client.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new DeployError(`minting TestUSD failed in ${hash}`);
  }
}

/** The node refused to move its clock: not a devnet (anvil), or not one that allows it. */
export class ClockError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ClockError";
  }
}

/**
 * Moves a devnet's clock `seconds` forward (anvil's evm_increaseTime) and mines a block at the
 * new time, so that reads and the next transaction see it. Returns that block.
 */
export async function advanceChainTime(
  rpcUrl: string,
  seconds: number,
): Promise<{ timestamp: bigint; blockNumber: bigint; before: bigint }> {
  const client = rpcClient(rpcUrl);
  const before = (await client.getBlock({ blockTag: "latest" })).timestamp;
  try {
    const test = createTestClient({
      mode: "anvil",
      transport: http(rpcUrl, { retryCount: 0, timeout: 5_000 }),
    });
    await test.increaseTime({ seconds });
    await test.mine({ blocks: 1 });
  } catch (error) {
    throw new ClockError(
      `the node at ${rpcUrl} does not move its clock (${(error as Error).message.split("\n")[0]}): only a devnet's can be`,
      { rpcUrl },
    );
  }
  const block = await client.getBlock({ blockTag: "latest" });
  return { timestamp: block.timestamp, blockNumber: block.number, before };
}

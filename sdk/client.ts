/**
 * The SDK's handle on one OpenLoRA deployment: viem clients for an RPC endpoint, the deployment's
 * addresses, and (for writes) the account that signs. Every other SDK module takes one of these.
 */
import {
  type Abi,
  type Account,
  type Address,
  type Chain,
  type ContractEventName,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  type HttpTransport,
  http,
  type Log,
  type ParseEventLogsReturnType,
  type PublicClient,
  parseEventLogs,
  type TransactionReceipt,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Deployment } from "./deployments";
import {
  InvalidArgumentError,
  MissingAccountError,
  OpenLoRAError,
  TransactionFailedError,
  toOpenLoRAError,
} from "./errors";

export interface OpenLoRAClient {
  readonly rpcUrl: string;
  readonly chain: Chain;
  readonly deployment: Deployment;
  readonly publicClient: PublicClient<HttpTransport, Chain>;
  /** Present when the client was given an account: the signer of every write. */
  readonly walletClient: WalletClient<HttpTransport, Chain, Account> | null;
}

export interface ClientOptions {
  rpcUrl: string;
  deployment: Deployment;
  /** The signer: a viem account or a 0x-prefixed private key. Reads need none. */
  account?: Account | Hex;
  /** How often to poll for receipts; defaults to 50 ms on a loopback node, 1 s elsewhere. */
  pollingIntervalMs?: number;
}

const LOOPBACK = /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/;

/** A chain definition for any EVM chain id, with this RPC URL. */
export function chainFor(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: chainId === 31337 ? "Anvil" : `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/** Parses a private key, with a clear error that never echoes the key. */
export function accountFromKey(key: string): Account {
  const normalized = key.trim().startsWith("0x") ? key.trim() : `0x${key.trim()}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(normalized)) {
    throw new InvalidArgumentError("the private key must be 32 bytes of hex (64 hex digits, 0x optional)");
  }
  try {
    return privateKeyToAccount(normalized as Hex);
  } catch (error) {
    throw new InvalidArgumentError(`invalid private key: ${(error as Error).message.split("\n")[0]}`);
  }
}

export function createOpenLoRAClient(options: ClientOptions): OpenLoRAClient {
  const { rpcUrl, deployment } = options;
  const chain = chainFor(deployment.chainId, rpcUrl);
  const pollingInterval = options.pollingIntervalMs ?? (LOOPBACK.test(rpcUrl) ? 50 : 1_000);
  const transport = http(rpcUrl, { retryCount: 1, timeout: 30_000 });
  const publicClient = createPublicClient({ chain, transport, pollingInterval });
  const account =
    options.account === undefined
      ? undefined
      : typeof options.account === "string"
        ? accountFromKey(options.account)
        : options.account;
  const walletClient = account ? createWalletClient({ account, chain, transport, pollingInterval }) : null;
  return { rpcUrl, chain, deployment, publicClient, walletClient };
}

/** The same deployment and node, signing with another account. */
export function withAccount(client: OpenLoRAClient, account: Account | Hex): OpenLoRAClient {
  return createOpenLoRAClient({
    rpcUrl: client.rpcUrl,
    deployment: client.deployment,
    account,
    pollingIntervalMs: client.publicClient.pollingInterval,
  });
}

/** The signing account, or a MissingAccountError naming what needed it. */
export function signer(client: OpenLoRAClient, action: string): Account {
  const account = client.walletClient?.account;
  if (!account) throw new MissingAccountError(`${action} needs an account to sign with`, { action });
  return account;
}

/**
 * Checks that the node answers and runs the deployment's chain; throws RpcUnreachableError or
 * InvalidArgumentError otherwise.
 */
export async function assertConnected(client: OpenLoRAClient): Promise<void> {
  const chainId = await call(client, "eth_chainId", () => client.publicClient.getChainId());
  if (chainId !== client.deployment.chainId) {
    throw new InvalidArgumentError(
      `the node at ${client.rpcUrl} runs chain ${chainId}, but the deployment is for chain ${client.deployment.chainId}`,
      { rpcUrl: client.rpcUrl, chainId, deploymentChainId: client.deployment.chainId },
    );
  }
}

/**
 * The chain's clock: the latest block's timestamp. Deadlines are set from it, not from the local
 * clock, so that they hold on chains whose time differs (a devnet that travelled in time).
 */
export async function chainTime(client: OpenLoRAClient): Promise<bigint> {
  const block = await call(client, "eth_getBlockByNumber", () =>
    client.publicClient.getBlock({ blockTag: "latest" }),
  );
  return block.timestamp;
}

/** Runs a read, turning viem's errors into the SDK's. */
export async function call<T>(client: OpenLoRAClient, action: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw toOpenLoRAError(error, { action, rpcUrl: client.rpcUrl });
  }
}

export interface ContractWrite {
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
}

export interface TxResult {
  hash: Hex;
  receipt: TransactionReceipt;
}

/**
 * Sends one contract transaction from the client's account and waits for it to be mined. A
 * revert (at gas estimation or on chain) becomes a ContractRevertError with the decoded error.
 */
export async function sendTx(
  client: OpenLoRAClient,
  action: string,
  write: ContractWrite,
): Promise<TxResult> {
  const account = signer(client, action);
  const wallet = client.walletClient as WalletClient<HttpTransport, Chain, Account>;
  let hash: Hex;
  try {
    // A quarter above the estimate: the block that mines the call may have a later timestamp than
    // the one it was estimated on (a vault's unlocking profit takes another branch), and a call
    // that runs out of gas reverts with no reason.
    const estimate = await client.publicClient.estimateContractGas({ ...write, account } as never);
    hash = await wallet.writeContract({
      ...write,
      account,
      chain: client.chain,
      gas: (estimate * 5n) / 4n,
    } as never);
  } catch (error) {
    throw toOpenLoRAError(error, { action, rpcUrl: client.rpcUrl });
  }
  const receipt = await call(client, action, () => client.publicClient.waitForTransactionReceipt({ hash }));
  if (receipt.status !== "success") {
    // Replay the call on the state before its block, to say why it failed.
    try {
      await client.publicClient.simulateContract({
        ...write,
        account,
        blockNumber: receipt.blockNumber - 1n,
      } as never);
    } catch (error) {
      const decoded = toOpenLoRAError(error, { action, rpcUrl: client.rpcUrl });
      if (decoded instanceof OpenLoRAError) throw decoded;
    }
    throw new TransactionFailedError(`${action}: transaction ${hash} reverted`, { hash });
  }
  return { hash, receipt };
}

/** The decoded events `eventName` of a receipt, or a TransactionFailedError if there are none. */
export function eventsOf<const abi extends Abi, eventName extends ContractEventName<abi>>(
  receipt: TransactionReceipt,
  abi: abi,
  eventName: eventName,
  address?: Address,
): ParseEventLogsReturnType<abi, eventName, true> {
  const logs = parseEventLogs({ abi, logs: receipt.logs as Log[], eventName });
  const filtered = address ? logs.filter((l) => l.address.toLowerCase() === address.toLowerCase()) : logs;
  if (filtered.length === 0) {
    throw new TransactionFailedError(`transaction ${receipt.transactionHash} emitted no ${eventName}`, {
      hash: receipt.transactionHash,
    });
  }
  return filtered as ParseEventLogsReturnType<abi, eventName, true>;
}

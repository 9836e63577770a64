/**
 * A deployed protocol on a real anvil chain for the runner's and the dashboard's tests: the SDK's
 * devnet, and short helpers over the SDK to register a base model and adapters (every
 * contributor consenting by signature), a staked runner, and funded consumers' channels.
 */
import {
  type Address,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  type LocalAccount,
  type PublicClient,
  parseUnits,
} from "viem";
import {
  type ContractWrite,
  chainFor,
  createOpenLoRAClient,
  type OpenLoRAClient,
  sendTx,
} from "../../../sdk/client";
import { openChannel as openSdkChannel } from "../../../sdk/consumer/channels";
import type { Deployment } from "../../../sdk/deployments";
import { ensureBaseModel, registerModelWithSigners } from "../../../sdk/integrator/models";
import { registerRunner as registerRunnerWithBond } from "../../../sdk/runners";
import { mintTestUsd } from "../../../sdk/token";
import type { Anvil } from "../../chain/anvil";
import { type DevAccount, devAccountAt, devAccounts, startDevnet } from "../../chain/devnet";

export const devAccount = (index: number): LocalAccount => devAccountAt(index);

export interface Protocol {
  anvil: Anvil;
  deployment: Deployment;
  publicClient: PublicClient;
  deployer: LocalAccount;
  wallet(account: LocalAccount): ReturnType<typeof createWalletClient>;
  write(
    account: LocalAccount,
    request: Parameters<ReturnType<typeof createWalletClient>["writeContract"]>[0],
  ): Promise<void>;
  stop(): Promise<void>;
}

export function privateKeyOf(index: number): Hex {
  return (devAccounts(index + 1)[index] as DevAccount).privateKey;
}

/** Starts anvil and deploys the protocol with the deploy script (the devnet of the SDK). */
export async function deployProtocol(): Promise<Protocol> {
  const devnet = await startDevnet({ accounts: 10, funding: 0n, env: { PROFIT_UNLOCK_PERIOD: "3600" } });
  const chain = chainFor(devnet.chainId, devnet.rpcUrl);
  const publicClient = createPublicClient({
    chain,
    transport: http(devnet.rpcUrl),
    pollingInterval: 100,
  }) as PublicClient;
  const wallet = (account: LocalAccount) =>
    createWalletClient({ chain, account, transport: http(devnet.rpcUrl) });
  return {
    anvil: { rpcUrl: devnet.rpcUrl, chainId: devnet.chainId, pid: devnet.pid, stop: devnet.stop },
    deployment: devnet.deployment,
    publicClient,
    deployer: devAccount(0),
    wallet,
    // Through the SDK's sendTx, as users' writes go: estimated with its margin (a deposit's gas
    // depends on the block's timestamp, and an exact estimate one second early runs out of gas),
    // and a revert decoded.
    async write(account, request) {
      const client = createOpenLoRAClient({ rpcUrl: devnet.rpcUrl, deployment: devnet.deployment, account });
      await sendTx(client, `test write ${request.functionName}`, request as unknown as ContractWrite);
    },
    stop: devnet.stop,
  };
}

/** An SDK client for the protocol, signing as `account`. */
function sdk(p: Protocol, account: LocalAccount = p.deployer): OpenLoRAClient {
  return createOpenLoRAClient({ rpcUrl: p.anvil.rpcUrl, deployment: p.deployment, account });
}

export async function fund(p: Protocol, to: Address, amount: bigint): Promise<void> {
  await mintTestUsd(sdk(p), to, amount);
}

export async function registerBaseModel(
  p: Protocol,
  contentHash: Hex,
  metadataURI = "openlora:base/lande-t50",
): Promise<bigint> {
  const { baseModelId } = await ensureBaseModel(sdk(p), { contentHash, metadataURI });
  return baseModelId;
}

/** Registers an adapter owned by `owner`, with `contributors` consenting by EIP-712 signature. */
export async function registerAdapter(
  p: Protocol,
  owner: LocalAccount,
  params: { baseModelId: bigint; adapterHash: Hex; pricePerCall: bigint; vaultShareBps: number },
  contributors: { account: LocalAccount; units: bigint }[],
): Promise<bigint> {
  const { modelId } = await registerModelWithSigners(
    sdk(p, owner),
    { ...params, metadataURI: "", datasetHashes: [] },
    contributors.map((c) => ({ account: c.account.address, units: c.units })),
    contributors.map((c) => c.account),
  );
  return modelId;
}

export async function registerRunner(p: Protocol, runner: LocalAccount, endpoint: string, feeBps: number) {
  const bond = parseUnits("100", 6);
  await fund(p, runner.address, bond);
  await registerRunnerWithBond(sdk(p, runner), { endpoint, feeBps, bond });
}

/** Opens a channel from `consumer` to `runner` with `amount` deposited; returns its id. */
export async function openChannel(
  p: Protocol,
  consumer: LocalAccount,
  runner: Address,
  amount: bigint,
): Promise<bigint> {
  await fund(p, consumer.address, amount);
  const { channelId } = await openSdkChannel(sdk(p, consumer), { runner, amount });
  return channelId;
}

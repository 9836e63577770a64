/**
 * A deployed protocol on a real anvil chain for the runner's tests: the deploy script run by
 * forge, a registered base model and adapters (contributors consent by signing the shares
 * contract's own digest), a registered and staked runner, and funded consumers.
 */
import {
  type Address,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type LocalAccount,
  type PublicClient,
  parseUnits,
} from "viem";
import { mnemonicToAccount } from "viem/accounts";
import type { Deployment } from "../../../sdk/deployments";
import {
  coTrainingSharesAbi,
  modelRegistryAbi,
  paymentChannelsAbi,
  runnerRegistryAbi,
  testUsdAbi,
} from "../../../sdk/generated/abis";
import type { Anvil } from "../../chain/anvil";
import { startDevnet } from "../../chain/devnet";

const MNEMONIC = "test test test test test test test test test test test junk";
export const devAccount = (index: number): LocalAccount =>
  mnemonicToAccount(MNEMONIC, { addressIndex: index });
const devKey = (index: number): Hex =>
  `0x${Buffer.from(mnemonicToAccount(MNEMONIC, { addressIndex: index }).getHdKey().privateKey as Uint8Array).toString("hex")}`;

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
  return devKey(index);
}

/** Starts anvil and deploys the protocol with the deploy script (the devnet of the SDK). */
export async function deployProtocol(): Promise<Protocol> {
  const devnet = await startDevnet({ accounts: 10, funding: 0n, env: { PROFIT_UNLOCK_PERIOD: "3600" } });
  const chain = defineChain({
    id: devnet.chainId,
    name: "anvil",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [devnet.rpcUrl] } },
  });
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
    async write(account, request) {
      const hash = await wallet(account).writeContract(request);
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
    },
    stop: devnet.stop,
  };
}

export async function fund(p: Protocol, to: Address, amount: bigint): Promise<void> {
  await p.write(p.deployer, {
    address: p.deployment.paymentAsset,
    abi: testUsdAbi,
    functionName: "mint",
    args: [to, amount],
  } as never);
}

export async function registerBaseModel(p: Protocol, contentHash: Hex): Promise<bigint> {
  await p.write(p.deployer, {
    address: p.deployment.modelRegistry,
    abi: modelRegistryAbi,
    functionName: "registerBaseModel",
    args: [contentHash, "ipfs://lande"],
  } as never);
  return p.publicClient.readContract({
    address: p.deployment.modelRegistry,
    abi: modelRegistryAbi,
    functionName: "baseModelIdByContentHash",
    args: [contentHash],
  });
}

/** Registers an adapter owned by `owner`, with `contributors` consenting by EIP-712 signature. */
export async function registerAdapter(
  p: Protocol,
  owner: LocalAccount,
  params: { baseModelId: bigint; adapterHash: Hex; pricePerCall: bigint; vaultShareBps: number },
  contributors: { account: LocalAccount; units: bigint }[],
): Promise<bigint> {
  const totalUnits = contributors.reduce((sum, c) => sum + c.units, 0n);
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const sorted = [...contributors].sort((a, b) =>
    BigInt(a.account.address) < BigInt(b.account.address) ? -1 : 1,
  );
  const consents = await Promise.all(
    sorted.map(async ({ account, units }) => {
      if (account.address === owner.address) {
        return { account: account.address, units, nonce: 0n, deadline: 0n, signature: "0x" as Hex };
      }
      const nonce = BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000));
      const digest = await p.publicClient.readContract({
        address: p.deployment.coTrainingShares,
        abi: coTrainingSharesAbi,
        functionName: "registrationConsentDigest",
        args: [owner.address, params.adapterHash, account.address, units, totalUnits, nonce, deadline],
      });
      const signature = await account.sign?.({ hash: digest });
      return { account: account.address, units, nonce, deadline, signature: signature as Hex };
    }),
  );
  await p.write(owner, {
    address: p.deployment.modelRegistry,
    abi: modelRegistryAbi,
    functionName: "registerModel",
    args: [
      {
        trainer: owner.address,
        adapterHash: params.adapterHash,
        baseModelId: params.baseModelId,
        parentModelId: 0n,
        pricePerCall: params.pricePerCall,
        vaultShareBps: params.vaultShareBps,
        metadataURI: "",
        datasetHashes: [],
      },
      consents,
    ],
  } as never);
  return p.publicClient.readContract({
    address: p.deployment.modelRegistry,
    abi: modelRegistryAbi,
    functionName: "modelIdByAdapterHash",
    args: [params.adapterHash],
  });
}

export async function registerRunner(p: Protocol, runner: LocalAccount, endpoint: string, feeBps: number) {
  const bond = parseUnits("100", 6);
  await fund(p, runner.address, bond);
  await p.write(runner, {
    address: p.deployment.paymentAsset,
    abi: testUsdAbi,
    functionName: "approve",
    args: [p.deployment.runnerRegistry, bond],
  } as never);
  await p.write(runner, {
    address: p.deployment.runnerRegistry,
    abi: runnerRegistryAbi,
    functionName: "register",
    args: [endpoint, feeBps, bond],
  } as never);
}

/** Opens a channel from `consumer` to `runner` with `amount` deposited; returns its id. */
export async function openChannel(
  p: Protocol,
  consumer: LocalAccount,
  runner: Address,
  amount: bigint,
): Promise<bigint> {
  await fund(p, consumer.address, amount);
  await p.write(consumer, {
    address: p.deployment.paymentAsset,
    abi: testUsdAbi,
    functionName: "approve",
    args: [p.deployment.paymentChannels, amount],
  } as never);
  const { result } = await p.publicClient.simulateContract({
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "open",
    args: [runner, amount, "0x0000000000000000000000000000000000000000"],
    account: consumer,
  });
  await p.write(consumer, {
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "open",
    args: [runner, amount, "0x0000000000000000000000000000000000000000"],
  } as never);
  return result;
}

// `npm run demo`: the main job on a local anvil chain. While the protocol contracts, the models
// and the runner are being built (see the issues), it runs what exists: it starts anvil, deploys
// the payment asset, funds the dev accounts, prints them, and stops the chain.
import { createPublicClient, createWalletClient, formatUnits, http, parseUnits } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { testUsdAbi } from "../../sdk/generated/abis";
import { startAnvil } from "../chain/anvil";
import { creationBytecode } from "../chain/artifacts";

const DEV_MNEMONIC = "test test test test test test test test test test test junk";
const FUNDING = parseUnits("10000", 6);

async function main() {
  const anvil = await startAnvil();
  try {
    console.log(`anvil: ${anvil.rpcUrl} (chain ${anvil.chainId}, pid ${anvil.pid})`);
    const chain = { ...foundry, id: anvil.chainId };
    const client = createPublicClient({ chain, transport: http(anvil.rpcUrl) });
    const accounts = [0, 1, 2, 3].map((addressIndex) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex }));
    const deployer = accounts[0] as (typeof accounts)[number];
    const wallet = createWalletClient({ account: deployer, chain, transport: http(anvil.rpcUrl) });

    const deployHash = await wallet.deployContract({
      abi: testUsdAbi,
      bytecode: creationBytecode("TestUSD"),
      args: [deployer.address],
    });
    const { contractAddress: token } = await client.waitForTransactionReceipt({ hash: deployHash });
    if (!token) throw new Error("TestUSD deployment returned no address");
    console.log(`payment asset TestUSD: ${token}`);

    for (const account of accounts) {
      const hash = await wallet.writeContract({
        address: token,
        abi: testUsdAbi,
        functionName: "mint",
        args: [account.address, FUNDING],
      });
      await client.waitForTransactionReceipt({ hash });
    }
    console.log("\nfunded accounts");
    console.table(
      await Promise.all(
        accounts.map(async (account) => ({
          address: account.address,
          tUSD: formatUnits(
            await client.readContract({
              address: token,
              abi: testUsdAbi,
              functionName: "balanceOf",
              args: [account.address],
            }),
            6,
          ),
        })),
      ),
    );
  } finally {
    await anvil.stop();
    console.log("anvil stopped");
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});

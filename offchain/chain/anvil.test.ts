import { createPublicClient, createWalletClient, http, parseUnits } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testUsdAbi } from "../../sdk/generated/abis";
import { type Anvil, startAnvil } from "./anvil";
import { creationBytecode } from "./artifacts";

// anvil's first well-known dev account (mnemonic "test test ... junk").
const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("anvil + generated ABIs", () => {
  let anvil: Anvil;

  beforeAll(async () => {
    anvil = await startAnvil();
  });

  afterAll(async () => {
    await anvil?.stop();
  });

  it("deploys TestUSD with viem, mints, and reads it back", async () => {
    const account = privateKeyToAccount(DEV_KEY);
    const chain = { ...foundry, id: anvil.chainId };
    const wallet = createWalletClient({ account, chain, transport: http(anvil.rpcUrl) });
    const client = createPublicClient({ chain, transport: http(anvil.rpcUrl) });

    const hash = await wallet.deployContract({
      abi: testUsdAbi,
      bytecode: creationBytecode("TestUSD"),
      args: [account.address],
    });
    const { contractAddress, status } = await client.waitForTransactionReceipt({ hash });
    expect(status).toBe("success");
    if (!contractAddress) throw new Error("no contract address in the receipt");

    const token = { address: contractAddress, abi: testUsdAbi } as const;
    const amount = parseUnits("1250.5", 6);
    await client.waitForTransactionReceipt({
      hash: await wallet.writeContract({ ...token, functionName: "mint", args: [account.address, amount] }),
    });

    expect(await client.readContract({ ...token, functionName: "symbol" })).toBe("tUSD");
    expect(await client.readContract({ ...token, functionName: "decimals" })).toBe(6);
    expect(await client.readContract({ ...token, functionName: "balanceOf", args: [account.address] })).toBe(
      amount,
    );
  });

  it("stops anvil by its process id", async () => {
    const { pid, rpcUrl } = anvil;
    expect(isRunning(pid)).toBe(true);
    await anvil.stop();
    expect(isRunning(pid)).toBe(false);
    await expect(fetch(rpcUrl, { method: "POST", body: "{}" })).rejects.toThrow();
  });
});

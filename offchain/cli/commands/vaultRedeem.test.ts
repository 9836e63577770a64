/**
 * `openlora vault redeem` before a vault's revenue has unlocked warns what the shares give up,
 * and when it would have been theirs; after `devnet advance` past the unlock, it does not.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { erc20Abi, type Hex, keccak256, toBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenLoRAClient, type OpenLoRAClient, sendTx } from "../../../sdk/client";
import { modelVaultAbi, modelVaultFactoryAbi } from "../../../sdk/generated/abis";
import { ensureBaseModel, registerModel } from "../../../sdk/integrator/models";
import { vaultOf } from "../../../sdk/investor/vaults";
import { formatAmount } from "../../../sdk/token";
import { DEVNET_PERIODS, type Devnet, startDevnet } from "../../chain/devnet";
import { chainFlags, runCli } from "./cliHarness";

const dir = mkdtempSync(join(tmpdir(), "openlora-cli-redeem-"));
let devnet: Devnet;
let chain: string[];
let admin: OpenLoRAClient;
let modelId: bigint;
const hash = (label: string) => keccak256(toBytes(label));
const address = (i: number) => (devnet.accounts[i] as { address: Hex }).address;

beforeAll(async () => {
  devnet = await startDevnet({
    accounts: 3,
    env: { PROFIT_UNLOCK_PERIOD: String(DEVNET_PERIODS.PROFIT_UNLOCK_PERIOD) },
  });
  chain = chainFlags(devnet, dir);
  admin = createOpenLoRAClient({
    rpcUrl: devnet.rpcUrl,
    deployment: devnet.deployment,
    account: devnet.deployer.privateKey,
  });
  // The deployer stands in for Settlement, to pay revenue into the vault directly.
  await sendTx(admin, "grantRole", {
    address: devnet.deployment.modelVaultFactory,
    abi: modelVaultFactoryAbi,
    functionName: "grantRole",
    args: [keccak256(toBytes("SETTLEMENT_ROLE")), address(0)],
  });
  const { baseModelId } = await ensureBaseModel(admin, { contentHash: hash("base"), metadataURI: "" });
  ({ modelId } = await registerModel(
    admin,
    {
      adapterHash: hash("redeem"),
      baseModelId,
      pricePerCall: 1n,
      vaultShareBps: 2_000,
      metadataURI: "",
      datasetHashes: [],
    },
    [{ account: address(0), units: 1n, nonce: 0n, deadline: 0n, signature: "0x" }],
  ));
});

afterAll(async () => {
  await devnet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (account: number, ...args: string[]) =>
  runCli([...args, ...chain, "--dev-account", String(account)]);

describe("openlora vault redeem", () => {
  it("warns what revenue still unlocking the shares give up, and not once it has unlocked", async () => {
    const model = String(modelId);
    for (const investor of [1, 2]) {
      expect((await cli(investor, "vault", "deposit", "--model", model, "--amount", "2")).code).toBe(0);
    }
    const vault = await vaultOf(admin, modelId);
    await sendTx(admin, "transfer", {
      address: devnet.deployment.paymentAsset,
      abi: erc20Abi,
      functionName: "transfer",
      args: [vault, 140_000n],
    });
    await sendTx(admin, "receiveRevenue", {
      address: vault,
      abi: modelVaultAbi,
      functionName: "receiveRevenue",
      args: [140_000n],
    });

    // What `vault show` says the position gains once unlocked is what the redeem gives up.
    const show = await cli(1, "--json", "vault", "show", "--model", model);
    const { preview } = show.json() as {
      preview: { position: { assetsNow: string; assetsAt: string }; unlockEnd: string };
    };
    const gain = BigInt(preview.position.assetsAt) - BigInt(preview.position.assetsNow);
    expect(gain).toBeGreaterThan(69_000n);
    const early = await cli(1, "vault", "redeem", "--model", model);
    expect(early.code).toBe(0);
    const until = new Date(Number(preview.unlockEnd) * 1000).toISOString();
    expect(early.stderr).toContain(
      `warning: redeemed before the vault's revenue unlocked: these shares gave up about ${formatAmount(gain, 6)} tUSD that would have been theirs by ${until}; it stays with the vault's other holders`,
    );

    const advance = await runCli(["devnet", "advance", "--time", "1h", "--rpc", devnet.rpcUrl]);
    expect(advance.code).toBe(0);
    const late = await cli(2, "--json", "vault", "redeem", "--model", model);
    expect(late.code).toBe(0);
    expect(late.stderr).not.toMatch(/warning/);
    expect(late.json()).toMatchObject({ forfeited: "0" });
    // The other holder got what the first gave up.
    expect(BigInt(late.json().assets as string)).toBeGreaterThan(2_000_000n + 70_000n);
  });
});

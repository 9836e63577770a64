/**
 * `openlora register`, `consent`, `vault`, `claim` and `status` against a devnet, as a user runs
 * them: the real CLI in a child process, keys from the environment or dev accounts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { erc20Abi, type Hex, keccak256, toBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenLoRAClient, type OpenLoRAClient, sendTx } from "../../../sdk/client";
import { coTrainingSharesAbi } from "../../../sdk/generated/abis";
import { getProvenance, metadataFromUri } from "../../../sdk/integrator/models";
import { type Devnet, startDevnet } from "../../chain/devnet";
import { repoRoot } from "./chainOptions";
import { chainFlags, runCli } from "./cliHarness";

const dir = mkdtempSync(join(tmpdir(), "openlora-cli-register-"));
const SPAM = join(repoRoot, "offchain/ml/models/spam-filter");
let devnet: Devnet;
let chain: string[];
let admin: OpenLoRAClient;
const key = (i: number) => (devnet.accounts[i] as { privateKey: Hex }).privateKey;
const address = (i: number) => (devnet.accounts[i] as { address: Hex }).address;

/** A co-trained manifest: the spam filter's, with another adapter hash and three contributors. */
function cotrainedManifest(
  name: string,
  contributors: { id: string; address?: string; units: number }[],
): string {
  const manifest = JSON.parse(readFileSync(join(SPAM, "manifest.json"), "utf8"));
  manifest.name = name;
  manifest.adapter.hash = keccak256(toBytes(name));
  manifest.training.mode = "federated";
  manifest.contributors = contributors.map((c) => ({ rows: 10, contribution: 0.1, ...c }));
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(manifest));
  return file;
}

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 6 });
  chain = chainFlags(devnet, dir);
  admin = createOpenLoRAClient({ rpcUrl: devnet.rpcUrl, deployment: devnet.deployment, account: key(0) });
});

afterAll(async () => {
  await devnet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("openlora register", () => {
  it("registers a trained adapter from its manifest with provenance (JSON)", async () => {
    const run = await runCli(
      ["--json", "register", SPAM, ...chain, "--price", "0.002", "--vault-share", "2500"],
      {
        OPENLORA_PRIVATE_KEY: key(1),
      },
    );
    expect(run.stderr).toMatch(/registering spam-filter/);
    expect(run.code).toBe(0);
    const out = run.json();
    expect(out).toMatchObject({
      modelId: "1",
      name: "spam-filter",
      adapterFileChecked: true,
      baseModelRegistered: true,
      pricePerCall: "2000",
      vaultShareBps: 2500,
      contributors: [{ id: "trainer", account: address(1), units: "10000" }],
      owner: address(1),
    });
    const p = await getProvenance(admin, 1n);
    const manifest = JSON.parse(readFileSync(join(SPAM, "manifest.json"), "utf8"));
    expect(p.model.adapterHash).toBe(manifest.adapter.hash);
    expect(p.baseModel.contentHash).toBe(manifest.baseModel.hash);
    expect(p.model.datasetHashes).toEqual(manifest.datasets.map((d: { hash: string }) => d.hash));
    expect(metadataFromUri(p.model.metadataURI)).toMatchObject({
      name: "spam-filter",
      labels: ["ham", "spam"],
    });
  });

  it("refuses an adapter that is already registered (exit 4)", async () => {
    const run = await runCli(["register", SPAM, ...chain], { OPENLORA_PRIVATE_KEY: key(1) });
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/openlora: adapter 0x[0-9a-f]{64} is already registered as model 1/);
  });

  it("registers a co-trained adapter, signing each contributor's consent with dev accounts", async () => {
    const manifest = cotrainedManifest("cotrained-dev", [
      { id: "alice", units: 5_000 },
      { id: "bob", units: 3_000 },
      { id: "carol", units: 0 },
      { id: "dave", units: 2_000 },
    ]);
    const run = await runCli([
      "--json",
      "register",
      manifest,
      ...chain,
      "--dev-contributors",
      "--dev-account",
      "5",
    ]);
    expect(run.code).toBe(0);
    const out = run.json();
    // Dev accounts 1, 2, 4 for the contributors with units (carol, with none, is not listed).
    expect(out.contributors).toEqual([
      { id: "alice", account: address(1), units: "5000" },
      { id: "bob", account: address(2), units: "3000" },
      { id: "dave", account: address(4), units: "2000" },
    ]);
    expect(out.skippedContributors).toEqual(["carol"]);
    const p = await getProvenance(admin, BigInt(out.modelId as string));
    expect(p.model.owner).toBe(address(5));
    expect(p.totalUnits).toBe(10_000n);
  });

  it("collects a consent signed separately with `openlora consent`", async () => {
    const manifest = cotrainedManifest("cotrained-consent", [
      { id: "registrant", address: address(3), units: 60 },
      { id: "erin", address: address(2), units: 40 },
    ]);
    const consentFile = join(dir, "erin-consent.json");
    const signed = await runCli(
      [
        "--json",
        "consent",
        ...chain,
        "--registrant",
        address(3),
        "--units",
        "40",
        "--total-units",
        "100",
        "--manifest",
        manifest,
        "--out",
        consentFile,
      ],
      { OPENLORA_PRIVATE_KEY: key(2) },
    );
    expect(signed.code).toBe(0);
    expect(JSON.parse(readFileSync(consentFile, "utf8"))).toMatchObject({
      contributor: address(2),
      units: "40",
      totalUnits: "100",
    });

    const missing = await runCli(["register", manifest, ...chain], { OPENLORA_PRIVATE_KEY: key(3) });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no consent from contributor erin/);

    const run = await runCli(["--json", "register", manifest, ...chain, "--consent", consentFile], {
      OPENLORA_PRIVATE_KEY: key(3),
    });
    expect(run.code).toBe(0);
    const p = await getProvenance(admin, BigInt(run.json().modelId as string));
    expect(p.contributors).toEqual([
      { account: address(3), units: 60n },
      { account: address(2), units: 40n },
    ]);
  });

  it("exits 2 on a bad key or manifest, 3 when the chain is unreachable", async () => {
    const badKey = await runCli(["register", SPAM, ...chain], { OPENLORA_PRIVATE_KEY: "0x1234" });
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/OPENLORA_PRIVATE_KEY: the private key must be 32 bytes of hex/);
    expect(badKey.stderr).not.toContain("0x1234");
    const badManifest = await runCli(["--json", "register", join(dir, "absent.json"), ...chain]);
    expect(badManifest.code).toBe(2);
    expect(badManifest.json().error).toMatch(/cannot read the manifest/);
    const dead = await runCli(["--json", "register", SPAM, "--rpc", "http://127.0.0.1:9"]);
    expect(dead.code).toBe(3);
    expect(dead.json()).toMatchObject({
      error: expect.stringMatching(/cannot reach the chain at http:\/\/127\.0\.0\.1:9/),
    });
  });
});

describe("openlora vault, claim and status", () => {
  it("deposits into a model's vault, shows it, and redeems it all", async () => {
    const deposit = await runCli([
      "--json",
      "vault",
      "deposit",
      ...chain,
      "--model",
      "1",
      "--amount",
      "250.5",
      "--dev-account",
      "4",
    ]);
    expect(deposit.code).toBe(0);
    expect(deposit.json()).toMatchObject({ model: "1", assets: "250500000", shares: "250500000000000" });
    const show = await runCli(["vault", "show", ...chain, "--model", "1", "--dev-account", "4"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/total assets +250\.5 tUSD/);
    expect(show.stdout).toMatch(/share price +1 tUSD per share/);
    expect(show.stdout).toMatch(/your shares +250\.5 shares worth 250\.5 tUSD now/);
    const redeem = await runCli([
      "--json",
      "vault",
      "redeem",
      ...chain,
      "--model",
      "1",
      "--dev-account",
      "4",
    ]);
    expect(redeem.code).toBe(0);
    expect(redeem.json()).toMatchObject({ shares: "250500000000000", assets: "250500000" });
  });

  it("exits 2 on more shares than held and on a bad amount", async () => {
    const tooMuch = await runCli([
      "vault",
      "redeem",
      ...chain,
      "--model",
      "1",
      "--shares",
      "5",
      "--dev-account",
      "4",
    ]);
    // Refused before the transaction, which would revert (ERC4626ExceededMaxRedeem).
    expect(tooMuch.code).toBe(2);
    expect(tooMuch.stderr).toMatch(/--shares 5 is more than you hold: you hold 0 shares/);
    const badAmount = await runCli(["vault", "deposit", ...chain, "--model", "1", "--amount", "1.0000001"]);
    expect(badAmount.code).toBe(2);
    expect(badAmount.stderr).toMatch(/--amount: "1.0000001" has more than 6 decimals/);
    const noVault = await runCli(["vault", "deposit", ...chain, "--model", "77", "--amount", "1"]);
    expect(noVault.code).toBe(2);
    expect(noVault.stderr).toMatch(/model 77 has no vault/);
  });

  it("claims a contributor's rewards from every model it holds units in", async () => {
    // The admin stands in for Settlement and credits 30 tUSD to model 2 (alice 50%, bob 30%, dave 20%).
    await sendTx(admin, "grantRole", {
      address: devnet.deployment.coTrainingShares,
      abi: coTrainingSharesAbi,
      functionName: "grantRole",
      args: [keccak256(toBytes("SETTLEMENT_ROLE")), address(0)],
    });
    await sendTx(admin, "transfer", {
      address: devnet.deployment.paymentAsset,
      abi: erc20Abi,
      functionName: "transfer",
      args: [devnet.deployment.coTrainingShares, 30_000_000n],
    });
    await sendTx(admin, "creditRevenue", {
      address: devnet.deployment.coTrainingShares,
      abi: coTrainingSharesAbi,
      functionName: "creditRevenue",
      args: [2n, 30_000_000n],
    });
    const status = await runCli(["--json", "status", ...chain, "--account", address(2)]);
    expect(status.code).toBe(0);
    expect(status.json().rewards).toEqual([
      { modelId: "2", units: "3000", totalUnits: "10000", claimable: "9000000" },
      { modelId: "3", units: "40", totalUnits: "100", claimable: "0" },
    ]);
    const claim = await runCli(["claim", ...chain, "--dev-account", "2"]);
    expect(claim.code).toBe(0);
    expect(claim.stdout).toMatch(/claimed 9 tUSD for 0x[0-9a-fA-F]{40}/);
    expect(claim.stdout).toMatch(/model 2: 9 tUSD/);
    const again = await runCli(["--json", "claim", ...chain, "--dev-account", "2"]);
    expect(again.json()).toMatchObject({ amount: "0", transaction: null });
  });

  it("shows an account's models, units and balance for humans", async () => {
    const run = await runCli(["status", ...chain, "--dev-account", "1"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^account 0x[0-9a-fA-F]{40}: [\d.]+ tUSD/);
    expect(run.stdout).toMatch(/models \(3 registered; \* = yours\)/);
    expect(run.stdout).toMatch(/\* +1 spam-filter +active +0\.002 tUSD\/call +0 calls/);
    expect(run.stdout).toMatch(/model 1: 10000 \/ 10000 units, 0 tUSD to claim/);
    expect(run.stdout).toMatch(/channels \(as consumer\)\n {2}none/);
  });
});

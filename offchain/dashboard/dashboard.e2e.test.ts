// The dashboard in a real browser: Debian's Chromium, driven by playwright-core, opens the page of
// a runner on anvil with the deployed protocol; paid calls, a settlement and a claim happen; the
// page's counters, flow diagram stages and payout figures must come to equal what the chain holds
// (read here with viem), and a receipt of the settled batch must verify on-chain from the page.
//
// Needs /usr/bin/chromium (tools/install-debian-packages.sh). Without it the test is skipped, except in CI
// (CI set), where it runs and fails. DASHBOARD_SCREENSHOTS=docs writes docs/dashboard*.png.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { type Address, formatUnits } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  coTrainingSharesAbi,
  modelRegistryAbi,
  modelVaultAbi,
  runnerRegistryAbi,
  settlementAbi,
  testUsdAbi,
} from "../../sdk/generated/abis";
import { splitRevenue } from "../../sdk/math/revenueSplit";
import { landeBaseModel } from "../ml/base/baseModel";
import { contentHash } from "../ml/hash";
import { loadRunnerConfig } from "../runner/config";
import { type Runner, startRunner } from "../runner/runner";
import { payingClient } from "../runner/testing/payingClient";
import {
  deployProtocol,
  devAccount,
  fund,
  type Protocol,
  privateKeyOf,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "../runner/testing/protocolFixture";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];
const skip = !existsSync(CHROMIUM) && !process.env.CI;
if (skip) {
  console.warn(
    `dashboard e2e test skipped: ${CHROMIUM} is absent (install it with tools/install-debian-packages.sh; with CI set the test runs and fails instead)`,
  );
}
const SCREENSHOTS = process.env.DASHBOARD_SCREENSHOTS;
/** In the page: at least 8 micropayments on their way from a model to its recipients. */
const IN_FLIGHT_TO_RECIPIENTS = `[...document.querySelectorAll('.flowsvg circle[opacity="0.9"]')]
  .filter((dot) => dot.cx.baseVal.value > 330).length >= 8`;

const SPAM = "offchain/ml/models/spam-filter";
const SENTIMENT = "offchain/ml/models/crypto-sentiment";
const adapterHashOf = (dir: string) => contentHash(readFileSync(path.join(dir, "adapter.safetensors")));
const DECIMALS = 6;
const units = (raw: bigint) => formatUnits(raw, DECIMALS);

const owner = devAccount(1);
const contributor = devAccount(2);
const dataContributor = devAccount(5);
const runnerAccount = devAccount(3);
const consumer = devAccount(4);
const investor = devAccount(6);

const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-dashboard-"));
let p: Protocol;
let runner: Runner;
let context: BrowserContext;
let page: Page;
let spamModel: bigint;
let sentimentModel: bigint;

// ------------------------------------------------------------------ chain reads (the truth)

const read = <T>(request: Record<string, unknown>) =>
  p.publicClient.readContract(request as never) as Promise<T>;
const registry = () => ({ address: p.deployment.modelRegistry, abi: modelRegistryAbi });
const shares = () => ({ address: p.deployment.coTrainingShares, abi: coTrainingSharesAbi });
const settlement = () => ({ address: p.deployment.settlement, abi: settlementAbi });

/** The registry's model, its usage counting what Settlement holds pending a flush. */
const getModel = async (modelId: bigint) => {
  const [m, [pendingCalls, pendingRevenue]] = await Promise.all([
    read<{ totalCalls: bigint; totalRevenue: bigint; vault: Address; vaultShareBps: number }>({
      ...registry(),
      functionName: "getModel",
      args: [modelId],
    }),
    read<readonly [bigint, bigint, bigint]>({ ...settlement(), functionName: "pendingOf", args: [modelId] }),
  ]);
  return { ...m, totalCalls: m.totalCalls + pendingCalls, totalRevenue: m.totalRevenue + pendingRevenue };
};
const holdersOf = (modelId: bigint) =>
  read<readonly [readonly Address[], readonly bigint[]]>({
    ...shares(),
    functionName: "holdersOf",
    args: [modelId],
  });
const claimable = (modelId: bigint, account: Address) =>
  read<bigint>({ ...shares(), functionName: "claimable", args: [modelId, account] });

/** What the page should show as streamed per recipient after `calls` calls at `price`. */
async function expectedStream(modelId: bigint, price: bigint, calls: bigint) {
  const [protocolFeeBps, [, runnerFeeBps], model, [accounts, held]] = await Promise.all([
    read<number>({ ...settlement(), functionName: "protocolFeeBps" }),
    read<readonly [boolean, number]>({
      address: p.deployment.runnerRegistry,
      abi: runnerRegistryAbi,
      functionName: "runnerTerms",
      args: [runnerAccount.address],
    }),
    getModel(modelId),
    holdersOf(modelId),
  ]);
  const split = splitRevenue(
    price,
    BigInt(protocolFeeBps),
    BigInt(runnerFeeBps),
    BigInt(model.vaultShareBps),
  );
  const total = held.reduce((sum, u) => sum + u, 0n);
  return {
    treasury: split.protocolFee * calls,
    runner: split.runnerFee * calls,
    vault: split.vault * calls,
    holders: accounts.map((account, i) => ({
      account,
      amount: ((split.holders * (held[i] as bigint)) / total) * calls,
    })),
  };
}

// ------------------------------------------------------------------ page reads

const card = (modelId: bigint) => `[data-model="${modelId}"]`;
const text = (selector: string) => page.locator(selector).first().textContent({ timeout: 5_000 });
const stage = (name: string) => `[data-stage="${name}"]`;

/** Polls until the page shows `expected` (the chain's value, re-read each time when a function). */
async function pageShows(selector: string, expected: string | (() => Promise<string>)) {
  await expect
    .poll(
      async () => {
        const want = typeof expected === "string" ? expected : await expected();
        const got = await text(selector).catch(() => null);
        return got === want ? "equal" : `page ${got} ≠ chain ${want}`;
      },
      { timeout: 15_000, interval: 200 },
    )
    .toBe("equal");
}

describe.skipIf(skip)("dashboard in Chromium", () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is absent: CI must install it first (tools/install-debian-packages.sh)`);
    }
    p = await deployProtocol();
    const deploymentsFile = path.join(tmp, "deployment.json");
    writeFileSync(deploymentsFile, JSON.stringify(p.deployment));
    const baseModelId = await registerBaseModel(p, landeBaseModel().hash);
    spamModel = await registerAdapter(
      p,
      owner,
      { baseModelId, adapterHash: adapterHashOf(SPAM), pricePerCall: 1_000n, vaultShareBps: 2_000 },
      [
        { account: owner, units: 600n },
        { account: contributor, units: 400n },
      ],
    );
    sentimentModel = await registerAdapter(
      p,
      owner,
      { baseModelId, adapterHash: adapterHashOf(SENTIMENT), pricePerCall: 2_500n, vaultShareBps: 1_000 },
      [
        { account: owner, units: 500n },
        { account: contributor, units: 300n },
        { account: dataContributor, units: 200n },
      ],
    );
    await registerRunner(p, runnerAccount, "http://127.0.0.1", 500);
    // An investor backs the spam filter: its vault has shares, so its revenue unlocks over time.
    const { vault } = await getModel(spamModel);
    await fund(p, investor.address, 50_000_000n);
    await p.write(investor, {
      address: p.deployment.paymentAsset,
      abi: testUsdAbi,
      functionName: "approve",
      args: [vault, 50_000_000n],
    } as never);
    await p.write(investor, {
      address: vault,
      abi: modelVaultAbi,
      functionName: "deposit",
      args: [50_000_000n, investor.address],
    } as never);

    const config = loadRunnerConfig({
      env: { OPENLORA_RUNNER_KEY: privateKeyOf(3) },
      flags: {
        rpcUrl: p.anvil.rpcUrl,
        deployments: deploymentsFile,
        port: 0,
        dataDir: path.join(tmp, "runner"),
        adapters: [SPAM, SENTIMENT],
        settlement: { intervalMs: 3_600_000, confirmations: 0 },
        chainCacheMs: 60_000,
      },
    });
    runner = await startRunner(config, {}, pino({ level: "silent" }));

    context = await chromium.launchPersistentContext(path.join(tmp, "chromium-profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1440, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    // The runner stops while the page still listens: its event stream must not hold the server open.
    await runner?.stop({ settle: false });
    await context?.close();
    await p?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("follows paid calls, settlement and a claim live, showing what the chain holds", async () => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${runner.url}/dashboard`);
    await page.locator('[data-connection="live"]').waitFor({ timeout: 10_000 });

    // Deployment: the registrations happened before the page opened; the history says so.
    const modelCount = await read<bigint>({ ...registry(), functionName: "modelCount" });
    await pageShows(`${stage("registered")} [data-field="count"]`, modelCount.toString());
    expect(await page.locator(stage("registered")).getAttribute("data-state")).toBe("done");
    for (const name of ["attributed", "settled", "rewarded"]) {
      expect(await page.locator(stage(name)).getAttribute("data-state")).toBe("idle");
    }
    await pageShows(`${card(spamModel)} [data-field="vault-assets"]`, units(50_000_000n));

    // Attribution: paid calls from two consumers, on both models at once.
    const spamCalls = 12;
    const sentimentCalls = 8;
    const alice = await payingClient(p, runnerAccount.address, consumer, 1_000_000n);
    const bob = await payingClient(p, runnerAccount.address, devAccount(7), 1_000_000n);
    const load = Promise.all([
      (async () => {
        for (let i = 0; i < spamCalls; i++)
          await alice.call(runner.url, spamModel, `WIN a FREE cruise now!!! offer ${i}`);
      })(),
      (async () => {
        for (let i = 0; i < sentimentCalls; i++)
          await bob.call(runner.url, sentimentModel, `ETH looks strong today ${i}`);
      })(),
    ]);
    if (SCREENSHOTS) {
      // Under load: wait for micropayments in flight on both models.
      await page.waitForFunction(IN_FLIGHT_TO_RECIPIENTS, null, { timeout: 10_000 });
      await page.screenshot({ path: path.join(SCREENSHOTS, "dashboard.png"), fullPage: true });
    }
    await load;

    await pageShows(`${card(spamModel)} [data-field="calls"]`, String(spamCalls));
    await pageShows(`${card(sentimentModel)} [data-field="calls"]`, String(sentimentCalls));
    await pageShows(`${stage("attributed")} [data-field="count"]`, String(spamCalls + sentimentCalls));
    expect(await page.locator(stage("attributed")).getAttribute("data-state")).toBe("done");
    await pageShows(`${stage("attributed")} [data-field="amount"]`, units(12n * 1_000n + 8n * 2_500n));
    await pageShows('#totals [data-field="pending"]', String(spamCalls + sentimentCalls));
    // Every paid call was animated, and its micropayments add up to the split of its price.
    expect(await page.locator(`${card(spamModel)} .flowsvg`).getAttribute("data-animated")).toBe(
      String(spamCalls),
    );
    for (const [modelId, price, calls] of [
      [spamModel, 1_000n, BigInt(spamCalls)],
      [sentimentModel, 2_500n, BigInt(sentimentCalls)],
    ] as const) {
      const stream = await expectedStream(modelId, price, calls);
      await pageShows(`${card(modelId)} [data-field="streamed-treasury"]`, units(stream.treasury));
      await pageShows(`${card(modelId)} [data-field="streamed-runner"]`, units(stream.runner));
      await pageShows(`${card(modelId)} [data-field="streamed-vault"]`, units(stream.vault));
      for (const { account, amount } of stream.holders) {
        await pageShows(
          `${card(modelId)} [data-account="${account.toLowerCase()}"] [data-field="streamed"]`,
          units(amount),
        );
      }
    }
    // Nothing is settled yet: the chain's counters are zero and so are the page's.
    expect((await getModel(spamModel)).totalCalls).toBe(0n);
    await pageShows(`${card(spamModel)} [data-field="chain-calls"]`, "0");

    // Settlement: one batch; the page's on-chain figures must become the chain's.
    const settled = await fetch(`${runner.url}/v2/settlement`, { method: "POST" });
    expect(settled.status).toBe(200);
    const batchCount = await read<bigint>({
      ...settlement(),
      functionName: "batchCount",
      args: [runnerAccount.address],
    });
    expect(batchCount).toBe(1n);
    await pageShows(`${stage("settled")} [data-field="count"]`, batchCount.toString());
    expect(await page.locator(stage("settled")).getAttribute("data-state")).toBe("done");
    await pageShows('#totals [data-field="pending"]', "0");
    for (const modelId of [spamModel, sentimentModel]) {
      const c = card(modelId);
      await pageShows(`${c} [data-field="chain-calls"]`, async () =>
        (await getModel(modelId)).totalCalls.toString(),
      );
      await pageShows(`${c} [data-field="chain-revenue"]`, async () =>
        units((await getModel(modelId)).totalRevenue),
      );
      await pageShows(`${c} [data-field="dist-holders"]`, async () =>
        units(await read<bigint>({ ...shares(), functionName: "totalCredited", args: [modelId] })),
      );
      const vault = (await getModel(modelId)).vault;
      const vaultRead = (functionName: string, args: unknown[] = []) =>
        read<bigint>({ address: vault, abi: modelVaultAbi, functionName, args });
      await pageShows(`${c} [data-field="dist-vault"]`, async () => units(await vaultRead("totalRevenue")));
      await pageShows(`${c} [data-field="vault-revenue"]`, async () =>
        units(await vaultRead("totalRevenue")),
      );
      await pageShows(`${c} [data-field="vault-locked"]`, async () =>
        units(await vaultRead("lockedRevenue")),
      );
      await pageShows(`${c} [data-field="vault-assets"]`, async () => units(await vaultRead("totalAssets")));
      await pageShows(`${c} [data-field="share-price"]`, async () =>
        units(await vaultRead("convertToAssets", [10n ** BigInt(DECIMALS + 6)])),
      );
      const [accounts] = await holdersOf(modelId);
      for (const account of accounts) {
        await pageShows(`${c} [data-account="${account.toLowerCase()}"] [data-field="claimable"]`, async () =>
          units(await claimable(modelId, account)),
        );
      }
    }
    await pageShows('#totals [data-field="runner-fees"]', async () =>
      units(
        await read<bigint>({
          ...settlement(),
          functionName: "runnerFeesAccrued",
          args: [runnerAccount.address],
        }),
      ),
    );
    await pageShows('#totals [data-field="protocol-fees"]', async () =>
      units(await read<bigint>({ ...settlement(), functionName: "protocolFeesAccrued" })),
    );

    // The batch is listed with the root the chain stored, and a receipt verifies on-chain.
    const root = await read<`0x${string}`>({
      ...settlement(),
      functionName: "batchRoot",
      args: [runnerAccount.address, 1n],
    });
    const row = page.locator('#batches tr[data-sequence="1"]');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('[data-field="root"]').getAttribute("data-root")).toBe(root);
    await row.locator("a.verify").first().click();
    await page.locator('#verify-result[data-included="true"]').waitFor({ timeout: 10_000 });
    const hash = (await row.locator("a.verify").first().getAttribute("data-receipt")) as `0x${string}`;
    const proof = (await (await fetch(`${runner.url}/v2/receipts/${hash}/proof`)).json()) as {
      sequence: string;
      proof: `0x${string}`[];
    };
    const receipt = [...alice.receipts, ...bob.receipts].find((r) => r.receipt.requestHash === hash);
    expect(receipt).toBeDefined();
    expect(
      await read<boolean>({
        ...settlement(),
        functionName: "verifyReceipt",
        args: [runnerAccount.address, BigInt(proof.sequence), receipt?.receipt, proof.proof],
      }),
    ).toBe(true);

    // Reward: a contributor claims; the last stage lights up with the chain's total.
    await p.write(contributor, { ...shares(), functionName: "claim", args: [spamModel] } as never);
    const claimed = await read<bigint>({ ...shares(), functionName: "totalClaimed", args: [spamModel] });
    expect(claimed).toBeGreaterThan(0n);
    await pageShows(`${stage("rewarded")} [data-field="count"]`, "1");
    expect(await page.locator(stage("rewarded")).getAttribute("data-state")).toBe("done");
    await pageShows(`${stage("rewarded")} [data-field="amount"]`, units(claimed));
    const row2 = `${card(spamModel)} [data-account="${contributor.address.toLowerCase()}"]`;
    await pageShows(`${row2} [data-field="claimed"]`, units(claimed));
    await pageShows(`${row2} [data-field="claimable"]`, async () =>
      units(await claimable(spamModel, contributor.address)),
    );

    if (SCREENSHOTS) {
      await page.screenshot({ path: path.join(SCREENSHOTS, "dashboard-settled.png"), fullPage: true });
    }
    expect(errors).toEqual([]);
  });
});

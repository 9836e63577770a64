// The dashboard in a real browser: Debian's Chromium, driven by playwright-core, opens the page of
// a runner on anvil with the deployed protocol; paid calls, a settlement and a claim happen; the
// page's counters, flow diagram stages and payout figures must come to equal what the chain holds
// (read here with viem), in the payment asset's tokens with its symbol, and a receipt of the
// settled batch must verify on-chain from the page. The runner then restarts: the first frame of
// a page opened before any event arrives shows the chain's figures, not zeros.
//
// Needs /usr/bin/chromium (tools/install-debian-packages.sh). Without it the test is skipped, except in CI
// (CI set), where it runs and fails. DASHBOARD_SCREENSHOTS=docs writes docs/dashboard*.png.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { type BrowserContext, chromium, type Page, type Route } from "playwright-core";
import { type Address, erc20Abi, formatUnits } from "viem";
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
import { formatDate } from "../cli/commands/dates";
import { USE_LITE_HASH } from "../ml/base/useLite/useLiteBase";
import { contentHash } from "../ml/hash";
import { loadRunnerConfig, type RunnerConfig } from "../runner/config";
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
/** In the page: at least 8 micropayments on their way from a model to its recipients, and one landed. */
const IN_FLIGHT_TO_RECIPIENTS = `[...document.querySelectorAll('.flowsvg circle[opacity="0.9"]')]
  .filter((dot) => dot.cx.baseVal.value > 280).length >= 8 && document.querySelector(".flowsvg .plus") !== null`;

const SPAM = "offchain/ml/models/spam-filter";
const SENTIMENT = "offchain/ml/models/crypto-sentiment";
const adapterHashOf = (dir: string) => contentHash(readFileSync(path.join(dir, "adapter_model.safetensors")));
/** In the page, before any script: notes every "+amount" label that overlaps a box of its diagram. */
const WATCH_PLUS_LABELS = `(() => {
  window.__plus = { seen: 0, overlaps: [], outside: [] };
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  new MutationObserver((records) => {
    for (const record of records)
      for (const label of record.addedNodes) {
        if (!(label instanceof SVGElement) || !label.classList.contains("plus")) continue;
        window.__plus.seen++;
        const at = label.getBoundingClientRect();
        const svg = label.ownerSVGElement.getBoundingClientRect();
        if (at.left < svg.left || at.right > svg.right || at.top < svg.top || at.bottom > svg.bottom)
          window.__plus.outside.push(label.textContent);
        for (const box of label.ownerSVGElement.querySelectorAll(".node"))
          if (overlap(at, box.getBoundingClientRect()))
            window.__plus.overlaps.push(label.textContent + " over " + box.querySelector("text").textContent);
      }
  }).observe(document, { childList: true, subtree: true });
})()`;
/**
 * In the page, before any script: the texts of `fields` (name: selector) in the first frame that
 * draws the flow's stages (requestAnimationFrame runs once per frame, before it is painted).
 */
const firstFrame = (fields: Record<string, string>) => `(() => {
  const fields = ${JSON.stringify(fields)};
  const read = () => {
    if (!document.querySelector('[data-stage="rewarded"] [data-field="amount"]')) return requestAnimationFrame(read);
    window.__firstFrame = Object.fromEntries(
      Object.entries(fields).map(([name, selector]) => [name, document.querySelector(selector)?.textContent ?? null]),
    );
  };
  requestAnimationFrame(read);
})()`;

const owner = devAccount(1);
const contributor = devAccount(2);
const dataContributor = devAccount(5);
const runnerAccount = devAccount(3);
const consumer = devAccount(4);
const investor = devAccount(6);

const tmp = mkdtempSync(path.join(os.tmpdir(), "openlora-dashboard-"));
let p: Protocol;
let config: RunnerConfig;
let runner: Runner;
/** The payment asset as the chain describes it. */
let asset: { symbol: string; decimals: number };
/** Base units as the page should show them: tokens with the asset's symbol. */
const tokens = (raw: bigint) => `${formatUnits(raw, asset.decimals)} ${asset.symbol}`;
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
const plural = (n: bigint | undefined, word: string) => `${n} ${word}${n === 1n ? "" : "s"}`;
/** The runner's BatchSettled events, oldest first. */
const batchesSettled = async () =>
  (
    await p.publicClient.getContractEvents({
      ...settlement(),
      eventName: "BatchSettled",
      args: { runner: runnerAccount.address },
      fromBlock: 0n,
    })
  ).map((log) => log.args as { sequence: bigint; lanes: bigint; calls: bigint; amount: bigint });
/** When a vault's locked revenue will have unlocked, as a date counted from the chain's time. */
async function unlockOf(vault: Address): Promise<string> {
  const vaultRead = (functionName: string) =>
    read<bigint>({ address: vault, abi: modelVaultAbi, functionName });
  const [locked, supply, end, block] = await Promise.all([
    vaultRead("lockedRevenue"),
    vaultRead("totalSupply"),
    vaultRead("unlockEnd"),
    p.publicClient.getBlock(),
  ]);
  if (locked === 0n) return "all unlocked";
  if (supply === 0n) return "waits for a deposit";
  return formatDate(end, block.timestamp);
}

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
    const baseModelId = await registerBaseModel(p, USE_LITE_HASH);
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

    const token = { address: p.deployment.paymentAsset, abi: erc20Abi } as const;
    asset = {
      symbol: await p.publicClient.readContract({ ...token, functionName: "symbol" }),
      decimals: await p.publicClient.readContract({ ...token, functionName: "decimals" }),
    };

    config = loadRunnerConfig({
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
    await page.addInitScript(WATCH_PLUS_LABELS);
    await page.goto(`${runner.url}/dashboard`);
    await page.locator('[data-connection="live"]').waitFor({ timeout: 10_000 });

    // Deployment: the registrations happened before the page opened; the history says so.
    const modelCount = await read<bigint>({ ...registry(), functionName: "modelCount" });
    await pageShows(`${stage("registered")} [data-field="count"]`, modelCount.toString());
    expect(await page.locator(stage("registered")).getAttribute("data-state")).toBe("done");
    for (const name of ["attributed", "settled", "rewarded"]) {
      expect(await page.locator(stage(name)).getAttribute("data-state")).toBe("idle");
    }
    await pageShows(`${card(spamModel)} [data-field="vault-assets"]`, tokens(50_000_000n));

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
    await pageShows(`${stage("attributed")} [data-field="amount"]`, tokens(12n * 1_000n + 8n * 2_500n));
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
      await pageShows(`${card(modelId)} [data-field="streamed-treasury"]`, tokens(stream.treasury));
      await pageShows(`${card(modelId)} [data-field="streamed-runner"]`, tokens(stream.runner));
      await pageShows(`${card(modelId)} [data-field="streamed-vault"]`, tokens(stream.vault));
      for (const { account, amount } of stream.holders) {
        await pageShows(
          `${card(modelId)} [data-account="${account.toLowerCase()}"] [data-field="streamed"]`,
          tokens(amount),
        );
      }
    }
    // Each landing micropayment's "+amount" stayed clear of every box (and its title), inside its
    // diagram: one label per recipient of each call (three and the model's holders).
    const labels = spamCalls * (3 + 2) + sentimentCalls * (3 + 3);
    await page.waitForFunction(`window.__plus.seen >= ${labels}`, null, { timeout: 10_000 });
    const plus = (await page.evaluate("window.__plus")) as {
      seen: number;
      overlaps: string[];
      outside: string[];
    };
    expect(plus.seen).toBe(labels);
    expect(plus.overlaps).toEqual([]);
    expect(plus.outside).toEqual([]);
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
    // The models' settled revenue moves on to their vaults and holders (anyone may flush).
    await p.write(owner, {
      ...settlement(),
      functionName: "flushMany",
      args: [[spamModel, sentimentModel]],
    } as never);
    await pageShows(`${stage("settled")} [data-field="count"]`, batchCount.toString());
    expect(await page.locator(stage("settled")).getAttribute("data-state")).toBe("done");
    await pageShows('#totals [data-field="pending"]', "0");
    for (const modelId of [spamModel, sentimentModel]) {
      const c = card(modelId);
      await pageShows(`${c} [data-field="chain-calls"]`, async () =>
        (await getModel(modelId)).totalCalls.toString(),
      );
      await pageShows(`${c} [data-field="chain-revenue"]`, async () =>
        tokens((await getModel(modelId)).totalRevenue),
      );
      await pageShows(`${c} [data-field="dist-holders"]`, async () =>
        tokens(await read<bigint>({ ...shares(), functionName: "totalCredited", args: [modelId] })),
      );
      const vault = (await getModel(modelId)).vault;
      const vaultRead = (functionName: string, args: unknown[] = []) =>
        read<bigint>({ address: vault, abi: modelVaultAbi, functionName, args });
      await pageShows(`${c} [data-field="dist-vault"]`, async () => tokens(await vaultRead("totalRevenue")));
      await pageShows(`${c} [data-field="vault-revenue"]`, async () =>
        tokens(await vaultRead("totalRevenue")),
      );
      await pageShows(`${c} [data-field="vault-locked"]`, async () =>
        tokens(await vaultRead("lockedRevenue")),
      );
      await pageShows(`${c} [data-field="vault-assets"]`, async () => tokens(await vaultRead("totalAssets")));
      await pageShows(
        `${c} [data-field="share-price"]`,
        async () =>
          `${tokens(await vaultRead("convertToAssets", [10n ** BigInt(asset.decimals + 6)]))} per share`,
      );
      await pageShows(`${c} [data-field="vault-unlock"]`, () => unlockOf(vault));
      const [accounts] = await holdersOf(modelId);
      for (const account of accounts) {
        await pageShows(`${c} [data-account="${account.toLowerCase()}"] [data-field="claimable"]`, async () =>
          tokens(await claimable(modelId, account)),
        );
      }
    }
    await pageShows('#totals [data-field="runner-fees"]', async () =>
      tokens(
        await read<bigint>({
          ...settlement(),
          functionName: "runnerFeesAccrued",
          args: [runnerAccount.address],
        }),
      ),
    );
    await pageShows('#totals [data-field="protocol-fees"]', async () =>
      tokens(await read<bigint>({ ...settlement(), functionName: "protocolFeesAccrued" })),
    );
    // The investor's vault unlocks its revenue over days: the page says the date and how far it is.
    expect(await text(`${card(spamModel)} [data-field="vault-unlock"]`)).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d UTC \(in \d+ (day|hour|minute|second)s?\)$/,
    );
    // This runner's settled totals, each with its label and unit, as the chain recorded them.
    const [batch] = await batchesSettled();
    const settledAmount = await read<bigint>({
      ...settlement(),
      functionName: "settledAmount",
      args: [runnerAccount.address],
    });
    await pageShows(`${stage("settled")} [data-field="amount"]`, tokens(settledAmount));
    await pageShows(
      `${stage("settled")} [data-field="detail"]`,
      `last: batch #${batch?.sequence} · ${plural(batch?.lanes, "lane")} · ${plural(batch?.calls, "call")} · ${tokens(batch?.amount ?? -1n)}`,
    );
    await pageShows('#totals [data-field="batches"]', batchCount.toString());
    await pageShows('#totals [data-field="settled-calls"]', String(batch?.calls));
    await pageShows('#totals [data-field="settled-amount"]', tokens(settledAmount));

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
    await pageShows(`${stage("rewarded")} [data-field="amount"]`, tokens(claimed));
    const row2 = `${card(spamModel)} [data-account="${contributor.address.toLowerCase()}"]`;
    await pageShows(`${row2} [data-field="claimed"]`, tokens(claimed));
    await pageShows(`${row2} [data-field="claimable"]`, async () =>
      tokens(await claimable(spamModel, contributor.address)),
    );

    if (SCREENSHOTS) {
      await page.screenshot({ path: path.join(SCREENSHOTS, "dashboard-settled.png"), fullPage: true });
    }
    expect(errors).toEqual([]);
  });

  it("after a restart, paints the chain's totals first and labels the runner's own counters", async () => {
    // The runner restarts on the same data, the first page still listening; a new page opens at once.
    await runner.stop({ settle: false });
    runner = await startRunner(config, {}, pino({ level: "silent" }));
    const fresh = await context.newPage();
    const errors: string[] = [];
    fresh.on("pageerror", (error) => errors.push(error.message));
    // The event stream is held: whatever the page shows comes from what it was served with.
    const held: Route[] = [];
    await fresh.route("**/dashboard/events", (route) => {
      held.push(route);
    });
    const vault = (await getModel(spamModel)).vault;
    const [batch] = await batchesSettled();
    try {
      await fresh.addInitScript(
        firstFrame({
          registered: `${stage("registered")} [data-field="count"]`,
          settled: `${stage("settled")} [data-field="count"]`,
          settledAmount: `${stage("settled")} [data-field="amount"]`,
          rewarded: `${stage("rewarded")} [data-field="count"]`,
          batches: '#totals [data-field="batches"]',
          settledCalls: '#totals [data-field="settled-calls"]',
          runnerFees: '#totals [data-field="runner-fees"]',
          session: "#totals .session h3",
          sessionCalls: '#totals [data-field="calls"]',
          chainCalls: `${card(spamModel)} [data-field="chain-calls"]`,
          vaultAssets: `${card(spamModel)} [data-field="vault-assets"]`,
          unlock: `${card(spamModel)} [data-field="vault-unlock"]`,
          connection: ".connection span",
        }),
      );
      await fresh.goto(`${runner.url}/dashboard`);
      const frame = await (
        await fresh.waitForFunction("window.__firstFrame", null, { timeout: 10_000 })
      ).jsonValue();

      const block = await p.publicClient.getBlockNumber();
      expect(frame).toEqual({
        registered: (await read<bigint>({ ...registry(), functionName: "modelCount" })).toString(),
        settled: (
          await read<bigint>({ ...settlement(), functionName: "batchCount", args: [runnerAccount.address] })
        ).toString(),
        settledAmount: tokens(
          await read<bigint>({
            ...settlement(),
            functionName: "settledAmount",
            args: [runnerAccount.address],
          }),
        ),
        rewarded: "1",
        batches: "1",
        settledCalls: String(batch?.calls),
        runnerFees: tokens(
          await read<bigint>({
            ...settlement(),
            functionName: "runnerFeesAccrued",
            args: [runnerAccount.address],
          }),
        ),
        session: expect.stringMatching(/^Since this runner started \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)$/),
        sessionCalls: "0",
        chainCalls: (await getModel(spamModel)).totalCalls.toString(),
        vaultAssets: tokens(
          await read<bigint>({ address: vault, abi: modelVaultAbi, functionName: "totalAssets" }),
        ),
        unlock: await unlockOf(vault),
        connection: `as of block #${block}, going live…`,
      });
      if (SCREENSHOTS) {
        await fresh.screenshot({ path: path.join(SCREENSHOTS, "dashboard-restarted.png"), fullPage: true });
      }
    } finally {
      // Let events through (a held stream would keep the page from closing).
      await fresh.unroute("**/dashboard/events");
      await Promise.all(held.map((route) => route.abort().catch(() => {})));
    }

    // The page goes live and keeps showing what the chain holds.
    await fresh.reload();
    await fresh.locator('[data-connection="live"]').waitFor({ timeout: 10_000 });
    expect(await fresh.locator('#totals [data-field="settled-calls"]').textContent()).toBe(
      String(batch?.calls),
    );
    expect(errors).toEqual([]);
  });
});

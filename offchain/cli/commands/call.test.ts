/**
 * A consumer's whole path through the CLI against a real runner on a devnet: `channel open`,
 * paid `call`s, `settle`, `verify-receipt`, `status`, `channel topup|show|close|withdraw`.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { createTestClient, type Hex, http, keccak256, toBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenLoRAClient } from "../../../sdk/client";
import { getChannel } from "../../../sdk/consumer/channels";
import { ensureBaseModel, getUsage, registerModelWithSigners } from "../../../sdk/integrator/models";
import { type Devnet, startDevnet } from "../../chain/devnet";
import { loadRunnerConfig } from "../../runner/config";
import { type Runner, startRunner } from "../../runner/runner";
import { repoRoot } from "./chainOptions";
import { chainFlags, runCli } from "./cliHarness";

const dir = mkdtempSync(join(tmpdir(), "openlora-cli-call-"));
const SPAM = join(repoRoot, "offchain/ml/models/spam-filter");
let devnet: Devnet;
let runner: Runner;
let chain: string[];
let channelId: string;
const key = (i: number) => (devnet.accounts[i] as { privateKey: Hex }).privateKey;
const address = (i: number) => (devnet.accounts[i] as { address: Hex }).address;
const consumer = ["--dev-account", "3"];
/** `openlora call` of the spam filter (model 1) by the consumer on its channel. */
const callSpam = (url: string, text: string) => [
  "call",
  url,
  ...chain,
  ...consumer,
  "--model",
  "1",
  "--channel",
  channelId,
  "--text",
  text,
];

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 4 });
  chain = chainFlags(devnet, dir);
  const owner = createOpenLoRAClient({
    rpcUrl: devnet.rpcUrl,
    deployment: devnet.deployment,
    account: key(1),
  });
  const manifest = JSON.parse(readFileSync(join(SPAM, "manifest.json"), "utf8"));
  const { baseModelId } = await ensureBaseModel(owner, {
    contentHash: manifest.baseModel.hash,
    metadataURI: "",
  });
  await registerModelWithSigners(
    owner,
    {
      adapterHash: manifest.adapter.hash,
      baseModelId,
      pricePerCall: 2_000n,
      vaultShareBps: 1_000,
      metadataURI: "",
      datasetHashes: [],
    },
    [{ account: address(1), units: 1n }],
    [privateKeyToAccount(key(1))],
  );
  const config = loadRunnerConfig({
    env: { OPENLORA_RUNNER_KEY: key(2) },
    flags: {
      rpcUrl: devnet.rpcUrl,
      deployments: chain[3],
      port: 0,
      dataDir: join(dir, "runner"),
      adapters: [SPAM],
      settlement: { intervalMs: 3_600_000, confirmations: 0 },
      chainCacheMs: 0,
    },
  });
  runner = await startRunner(config, {}, pino({ level: "silent" }));
});

afterAll(async () => {
  await runner?.stop({ settle: false });
  await devnet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a runner and a consumer through the CLI", () => {
  it("registers the runner with its endpoint and lists it", async () => {
    const run = await runCli([
      "--json",
      "runner",
      "register",
      ...chain,
      "--dev-account",
      "2",
      "--endpoint",
      runner.url,
      "--fee-bps",
      "500",
    ]);
    expect(run.code).toBe(0);
    expect(run.json().runner).toMatchObject({
      address: address(2),
      active: true,
      feeBps: 500,
      bond: "100000000",
      endpoint: runner.url,
    });
    const list = await runCli(["runner", "list", ...chain]);
    expect(list.stdout).toMatch(
      new RegExp(`${address(2)} +active +${runner.url.replace(/[.]/g, "\\.")} +fee 5% +bond 100 tUSD`),
    );
  });

  it("opens a channel to the runner", async () => {
    const run = await runCli([
      "--json",
      "channel",
      "open",
      ...chain,
      ...consumer,
      "--runner",
      address(2),
      "--amount",
      "5",
    ]);
    expect(run.code).toBe(0);
    const out = run.json();
    channelId = out.channelId as string;
    expect(out.channel).toMatchObject({
      consumer: address(3),
      runner: address(2),
      deposited: "5000000",
      state: "open",
    });
  });

  it("pays calls with vouchers and keeps the lane across invocations", async () => {
    const receiptFile = join(dir, "receipt.json");
    const first = await runCli([
      "--json",
      ...callSpam(runner.url, "Congratulations! You won a FREE iPhone, claim your prize now!!!"),
      "--count",
      "3",
      "--receipt-out",
      receiptFile,
    ]);
    expect(first.code).toBe(0);
    expect(first.json()).toMatchObject({ calls: 3, paid: "6000", label: "spam", runner: address(2) });
    expect(JSON.parse(readFileSync(receiptFile, "utf8")).receipt).toMatchObject({
      callIndex: "3",
      modelId: "1",
    });

    // A new process knows nothing of the lane: it resumes from the runner's view of its own last voucher.
    const second = await runCli(callSpam(runner.url, "Hi Anna, notes attached, see you Tuesday."));
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^model 1: (ham|spam) {2}\(scores \d\.\d{3}, \d\.\d{3}\)/);
    expect(second.stdout).toMatch(/paid 0\.002 tUSD for 1 call\(s\) on channel 1/);
    expect(second.stdout).toMatch(/receipt: call 4, request 0x[0-9a-f]{64}, signed by runner/);
  });

  it("settles through the runner, then verifies the receipt's inclusion on-chain", async () => {
    const settle = await runCli(["--json", "settle", runner.url]);
    expect(settle.code).toBe(0);
    expect((settle.json().batches as unknown[]).length).toBe(1);
    expect(
      await getUsage(createOpenLoRAClient({ rpcUrl: devnet.rpcUrl, deployment: devnet.deployment }), 1n),
    ).toMatchObject({
      totalCalls: 4n,
      totalRevenue: 8_000n,
    });
    const nothing = await runCli(["settle", runner.url]);
    expect(nothing.stdout).toMatch(/nothing to settle/);

    const receiptFile = join(dir, "receipt.json");
    const verified = await runCli([
      "--json",
      "verify-receipt",
      ...chain,
      "--runner-url",
      runner.url,
      "--receipt",
      receiptFile,
    ]);
    expect(verified.code).toBe(0);
    expect(verified.json()).toMatchObject({
      included: true,
      locallyVerified: true,
      signatureValid: true,
      valid: true,
      sequence: "1",
    });

    // The same proof with the output swapped is refused with exit code 4.
    const proof = (await (
      await fetch(
        `${runner.url}/v2/receipts/${JSON.parse(readFileSync(receiptFile, "utf8")).receipt.requestHash}/proof`,
      )
    ).json()) as { receipt: { outputHash: string } };
    proof.receipt.outputHash = `0x${"ab".repeat(32)}`;
    const tamperedFile = join(dir, "tampered.json");
    writeFileSync(tamperedFile, JSON.stringify(proof));
    const tampered = await runCli(["verify-receipt", ...chain, "--proof", tamperedFile]);
    expect(tampered.code).toBe(4);
    expect(tampered.stdout).toMatch(/on-chain +NOT included/);
    expect(tampered.stderr).toMatch(/openlora: the receipt is not included in that settled batch/);
  });

  it("verifies the user's own receipt, and refuses an edited one naming the field", async () => {
    const receiptFile = join(dir, "receipt.json");
    const original = readFileSync(receiptFile, "utf8");
    // The runner to ask is the one the receipt was bought from.
    const untouched = await runCli(["verify-receipt", ...chain, "--receipt", receiptFile]);
    expect(untouched.code).toBe(0);
    expect(untouched.stdout).toMatch(/runner's +the same receipt/);
    expect(untouched.stdout).toMatch(/signature +signed by the runner/);
    expect(untouched.stdout).toMatch(
      /amount +0\.002 tUSD, as the chain settled per call \(calls 1-4 of lane/,
    );

    const saved = JSON.parse(original);
    const signature = saved.receiptSignature as string;
    const v = Number.parseInt(signature.slice(130), 16);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const highS = (n - BigInt(`0x${signature.slice(66, 130)}`)).toString(16).padStart(64, "0");
    const edits: [string, (r: typeof saved) => void, RegExp][] = [
      [
        "amount",
        (r) => {
          r.amount = "3000";
        },
        /amount differs: your receipt 0\.003 tUSD, the chain settled 0\.002 tUSD per call/,
      ],
      [
        "outputHash",
        (r) => {
          r.receipt.outputHash = `0x${"ab".repeat(32)}`;
        },
        new RegExp(`outputHash differs: your receipt 0x(ab){32}, the runner's ${saved.receipt.outputHash}`),
      ],
      [
        "requestHash",
        (r) => {
          r.receipt.requestHash = `0x${"cd".repeat(32)}`;
        },
        new RegExp(`requestHash differs: your receipt 0x(cd){32}, the runner's ${saved.receipt.requestHash}`),
      ],
      [
        "modelId",
        (r) => {
          r.receipt.modelId = "2";
        },
        /modelId differs: your receipt 2, the runner's 1/,
      ],
      [
        "signature",
        (r) => {
          r.receiptSignature = `${signature.slice(0, 10)}${signature[10] === "0" ? "1" : "0"}${signature.slice(11)}`;
        },
        /receiptSignature is not the runner's signature of this receipt/,
      ],
      [
        "signature with v of 0 or 1",
        (r) => {
          r.receiptSignature = `${signature.slice(0, 130)}0${v - 27}`;
        },
        /receiptSignature is not the runner's signature of this receipt: its v is [01], not 27 or 28/,
      ],
      [
        "signature with a high s",
        (r) => {
          r.receiptSignature = `${signature.slice(0, 66)}${highS}${(55 - v).toString(16)}`;
        },
        /receiptSignature is not .*: its s is in the upper half/,
      ],
    ];
    for (const [what, edit, message] of edits) {
      const edited = JSON.parse(original);
      edit(edited);
      const file = join(dir, `edited-${what.replaceAll(" ", "-")}.json`);
      writeFileSync(file, JSON.stringify(edited));
      const run = await runCli(["verify-receipt", ...chain, "--runner-url", runner.url, "--receipt", file]);
      expect({ what, code: run.code }).toEqual({ what, code: 4 });
      expect(run.stderr).toMatch(message);
    }
  });

  it("claims the runner's fees from the settlement", async () => {
    const run = await runCli(["--json", "runner", "claim-fees", ...chain, "--dev-account", "2"]);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ runner: address(2), amount: "400" }); // 5% of 8000
    const again = await runCli(["runner", "claim-fees", ...chain, "--dev-account", "2"]);
    expect(again.stdout).toMatch(/no runner fees to claim/);
  });

  it("shows the channel in the consumer's status", async () => {
    const run = await runCli(["--json", "status", ...chain, ...consumer]);
    expect(run.code).toBe(0);
    expect(run.json().channels).toEqual([
      expect.objectContaining({ channelId, paid: "8000", balance: "4992000", state: "open" }),
    ]);
  });

  it("refuses to pay above --max-price (exit 4) and reports a runner it cannot reach (exit 3)", async () => {
    const pricey = await runCli([...callSpam(runner.url, "hello"), "--max-price", "0.001"]);
    expect(pricey.code).toBe(4);
    expect(pricey.stderr).toMatch(
      /the runner's price, 0\.002 tUSD per call, is above --max-price 0\.001 tUSD/,
    );
    const dead = await runCli(callSpam("http://127.0.0.1:9", "hello"));
    expect(dead.code).toBe(3);
    expect(dead.stderr).toMatch(/cannot reach the runner at http:\/\/127\.0\.0\.1:9/);
    const unknown = await runCli(["channel", "show", ...chain, "999"]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/PaymentChannels_UnknownChannel\(channelId=999\)/);
  });

  it("writes every paid answer to --out, one JSON line per call, appending", async () => {
    const out = join(dir, "answers.jsonl");
    const run = await runCli([
      ...callSpam(runner.url, "WIN a FREE cruise now!!!"),
      "--count",
      "3",
      "--out",
      out,
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/3 answer\(s\) appended to .*answers\.jsonl/);
    const lines = readFileSync(out, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.call)).toEqual([1, 2, 3]);
    for (const line of lines) {
      expect(line).toMatchObject({ model: "1", channel: channelId, amount: "2000", runner: address(2) });
      expect(line.label).toMatch(/^(spam|ham)$/);
      // The answer is kept byte for byte: its hash is the receipt's outputHash.
      expect(keccak256(toBytes(line.answer))).toBe(line.receipt.outputHash);
    }
    const indexes = lines.map((l) => BigInt(l.receipt.callIndex));
    expect(indexes[1]).toBe((indexes[0] as bigint) + 1n);
    expect(lines[2].voucher.cumulativeCalls).toBe(lines[2].receipt.callIndex);

    const again = await runCli([...callSpam(runner.url, "hello"), "--out", out]);
    expect(again.code).toBe(0);
    expect(readFileSync(out, "utf8").trimEnd().split("\n")).toHaveLength(4);
  });

  it("has every answer paid so far on disk when the process is killed mid-run", async () => {
    const out = join(dir, "killed.jsonl");
    const child = spawn(
      "node",
      [join(repoRoot, "bin/openlora.mjs"), ...callSpam(runner.url, "hello"), "--count", "1000", "--out", out],
      { cwd: repoRoot, stdio: "ignore" },
    );
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const lines = () => (existsSync(out) ? readFileSync(out, "utf8").split("\n").length - 1 : 0);
    for (let waited = 0; lines() < 3; waited += 50) {
      if (waited > 60_000 || child.exitCode !== null) throw new Error("no answers written");
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    await exited;
    const written = readFileSync(out, "utf8");
    expect(written.endsWith("\n")).toBe(true);
    const records = written
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(records.length).toBeGreaterThanOrEqual(3);
    expect(records.map((r) => r.call)).toEqual(records.map((_, i) => i + 1));
  });

  it("prints every paid answer without --out", async () => {
    const run = await runCli([...callSpam(runner.url, "WIN a FREE cruise now!!!"), "--count", "2"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^1\/2 model 1: (ham|spam) {2}\(scores .*\)\n2\/2 model 1: (ham|spam) /);
  });

  it("keeps the answers paid before the channel runs dry and says how to top up", async () => {
    const open = await runCli([
      "--json",
      "channel",
      "open",
      ...chain,
      ...consumer,
      "--runner",
      address(2),
      "--amount",
      "0.004", // two calls at 0.002
    ]);
    expect(open.code).toBe(0);
    const small = open.json().channelId as string;
    const out = join(dir, "dry.jsonl");
    const args = [...callSpam(runner.url, "WIN a FREE cruise now!!!"), "--count", "5", "--out", out];
    args[args.indexOf(channelId, args.indexOf("--channel"))] = small;
    const run = await runCli(args);
    expect(run.code).toBe(4);
    expect(readFileSync(out, "utf8").trimEnd().split("\n")).toHaveLength(2);
    expect(run.stderr).toMatch(
      /2 of 5 paid \(0\.004 tUSD at 0\.002 tUSD per call, answers in .*dry\.jsonl\)/,
    );
    expect(run.stderr).toMatch(/insufficient_channel_balance/);
    const topup = /top it up with: (openlora channel topup .*)$/m.exec(run.stderr)?.[1];
    expect(topup).toBe(`openlora channel topup ${small} --amount 0.006 ${chain.join(" ")} --dev-account 3`);

    // The command printed is the one to run: after it, the 3 calls left are paid.
    const words = (topup as string).split(" ").slice(1);
    expect((await runCli(words)).code).toBe(0);
    const rest = await runCli([...args.slice(0, args.indexOf("--count")), "--count", "3", "--out", out]);
    expect(rest.code).toBe(0);
    expect(readFileSync(out, "utf8").trimEnd().split("\n")).toHaveLength(5);
  });

  it("tops up with a permit, closes, and withdraws the rest after the challenge period", async () => {
    const topup = await runCli([
      "--json",
      "channel",
      "topup",
      ...chain,
      ...consumer,
      channelId,
      "--amount",
      "1",
      "--permit",
    ]);
    expect(topup.code).toBe(0);
    expect(topup.json().deposited).toBe("6000000");
    const close = await runCli(["--json", "channel", "close", ...chain, ...consumer, channelId]);
    expect(close.code).toBe(0);
    const early = await runCli(["channel", "withdraw", ...chain, ...consumer, channelId]);
    expect(early.code).toBe(4);
    expect(early.stderr).toMatch(/PaymentChannels_ChallengePeriodActive/);

    const test = createTestClient({ mode: "anvil", transport: http(devnet.rpcUrl) });
    await test.setNextBlockTimestamp({ timestamp: BigInt(close.json().closesAt as string) });
    await test.mine({ blocks: 1 });
    const show = await runCli(["channel", "show", ...chain, channelId]);
    expect(show.stdout).toMatch(/channel 1: closable/);
    const withdraw = await runCli(["--json", "channel", "withdraw", ...chain, ...consumer, channelId]);
    expect(withdraw.code).toBe(0);
    expect(withdraw.json()).toMatchObject({ amount: "5992000", paid: "8000" });
    const reader = createOpenLoRAClient({ rpcUrl: devnet.rpcUrl, deployment: devnet.deployment });
    expect((await getChannel(reader, BigInt(channelId))).state).toBe("closed");
  });
});

/**
 * A user's ordinary mistakes, run through the real CLI against a devnet: each gets one clear line
 * (no stack trace), the exit code docs/cli.md documents, and is refused before anything is spent
 * or registered for good. Amounts in flags are token amounts.
 */
import { exec } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Hex, keccak256, toBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenLoRAClient } from "../../../sdk/client";
import { getRunner } from "../../../sdk/runners";
import { type Devnet, devAccounts, startDevnet } from "../../chain/devnet";
import { repoRoot } from "./chainOptions";
import { chainFlags, runCli } from "./cliHarness";

const dir = mkdtempSync(join(tmpdir(), "openlora-cli-errors-"));
const SPAM = join(repoRoot, "offchain/ml/models/spam-filter");
const FIXTURE = join(repoRoot, "offchain/ml/data/spam-assassin/emails.jsonl.gz");
let devnet: Devnet;
let chain: string[];
/** A server that accepts connections and never answers, like a runner that hangs. */
let silent: Server;
let silentUrl: string;
const sockets: Socket[] = [];
const key = (i: number) => (devnet.accounts[i] as { privateKey: Hex }).privateKey;
const address = (i: number) => (devnet.accounts[i] as { address: Hex }).address;
const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

/** A manifest like the spam filter's, with another adapter hash (no adapter file beside it). */
function freshManifest(name: string): string {
  const manifest = JSON.parse(readFileSync(join(SPAM, "manifest.json"), "utf8"));
  manifest.name = name;
  manifest.adapter.hash = keccak256(toBytes(name));
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(manifest));
  return file;
}

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 5 });
  chain = chainFlags(devnet, dir);
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  const registered = await runCli(["register", SPAM, ...chain, "--dev-account", "1"]);
  expect(registered.code).toBe(0);
  const runner = await runCli([
    "runner",
    "register",
    ...chain,
    "--dev-account",
    "2",
    "--endpoint",
    "http://127.0.0.1:1",
  ]);
  expect(runner.code).toBe(0);
}, 180_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  silent?.close();
  await devnet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("timeouts on every HTTP call to a runner", () => {
  it("settle: a runner that never answers is named, exit 3", async () => {
    const run = await runCli(["settle", silentUrl, "--timeout-ms", "500"], {}, 20_000);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`the runner at ${silentUrl} did not answer within 500 ms`);
  });

  it("verify-receipt: the proof request times out, exit 3", async () => {
    const run = await runCli(
      [
        "verify-receipt",
        ...chain,
        "--runner-url",
        silentUrl,
        "--request-hash",
        keccak256(toBytes("x")),
        "--timeout-ms",
        "500",
      ],
      {},
      20_000,
    );
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`did not answer within 500 ms`);
    expect(run.stderr).toContain(silentUrl);
  });

  it("call: a paid call to a runner that never answers times out, exit 3", async () => {
    const open = await runCli([
      "--json",
      "channel",
      "open",
      ...chain,
      "--dev-account",
      "3",
      "--runner",
      address(2),
      "--amount",
      "1",
    ]);
    expect(open.code).toBe(0);
    const channel = String(open.json().channelId);
    const run = await runCli(
      [
        "call",
        silentUrl,
        ...chain,
        "--dev-account",
        "3",
        "--model",
        "1",
        "--channel",
        channel,
        "--text",
        "hi",
        "--timeout-ms",
        "500",
      ],
      {},
      30_000,
    );
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`the runner at ${silentUrl} did not answer within 500 ms`);
    noStack(run.stderr);
  });
});

describe("bad input is refused with a clear line", () => {
  it("register --trainer that is not an address: exit 2, nothing registered", async () => {
    const run = await runCli(["register", freshManifest("trainer-typo"), ...chain, "--trainer", "0x1234"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--trainer must be an address, got "0x1234"');
    noStack(run.stderr);
  });

  it("train --out naming a file: exit 2 before training", async () => {
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "x");
    const run = await runCli(["train", "--data", FIXTURE, "--out", file, "--epochs", "1"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--out ${file} is a file, not a directory`);
    expect(run.stderr).not.toMatch(/epoch/);
    noStack(run.stderr);
  });

  it("cotrain --out naming a file: exit 2 before training", async () => {
    const file = join(dir, "not-a-dir-either");
    writeFileSync(file, "x");
    const run = await runCli([
      "cotrain",
      "--contributor",
      `alice=${FIXTURE}`,
      "--contributor",
      `bob=${FIXTURE}`,
      "--validation",
      FIXTURE,
      "--out",
      file,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--out ${file} is a file, not a directory`);
    noStack(run.stderr);
  });

  it("consent --out and call --receipt-out naming a directory: exit 2 before signing or paying", async () => {
    const consent = await runCli([
      "consent",
      ...chain,
      "--registrant",
      address(1),
      "--units",
      "1",
      "--total-units",
      "2",
      "--adapter-hash",
      keccak256(toBytes("c")),
      "--out",
      dir,
    ]);
    expect(consent.code).toBe(2);
    expect(consent.stderr).toContain(`--out ${dir} is a directory: name a file`);
    noStack(consent.stderr);
    const call = await runCli(
      ["call", silentUrl, ...chain, "--model", "1", "--channel", "1", "--text", "hi", "--receipt-out", dir],
      {},
      20_000,
    );
    expect(call.code).toBe(2);
    expect(call.stderr).toContain(`--receipt-out ${dir} is a directory: name a file`);
  });

  it("train --rank beyond what runners serve: exit 2 before training", async () => {
    const run = await runCli(["train", "--data", FIXTURE, "--out", join(dir, "big"), "--rank", "32"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--rank 32 .*rank 16/);
    expect(run.stderr).not.toMatch(/epoch/);
  });

  it("stdout closed early (| head): exits quietly", async () => {
    const cli = `node ${join(repoRoot, "bin/openlora.mjs")} runner list ${chain.join(" ")}`;
    const { code, stderr } = await new Promise<{ code: string; stderr: string }>((resolve) => {
      exec(
        `bash -c 'set -o pipefail; ${cli} 2>${dir}/epipe.err | head -c 0; echo "\${PIPESTATUS[0]}"'`,
        (_error, stdout) =>
          resolve({ code: stdout.trim(), stderr: readFileSync(`${dir}/epipe.err`, "utf8") }),
      );
    });
    expect(stderr).not.toMatch(/EPIPE/);
    expect(code).toBe("0");
  });
});

describe("an unfunded account is told what it has and needs", () => {
  it("no native gas: names the account and its balance, exit 4", async () => {
    const fresh = generatePrivateKey();
    const who = privateKeyToAccount(fresh).address;
    const run = await runCli(["vault", "deposit", ...chain, "--model", "1", "--amount", "1"], {
      OPENLORA_PRIVATE_KEY: fresh,
    });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`${who} has 0 ETH to pay for gas`);
    noStack(run.stderr);
  });

  it("too few payment tokens: what it has and what it needs, exit 4", async () => {
    const run = await runCli([
      "vault",
      "deposit",
      ...chain,
      "--dev-account",
      "7",
      "--model",
      "1",
      "--amount",
      "5",
    ]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`${devAccounts(8)[7]?.address} has 0 tUSD, and this needs 5 tUSD`);
    noStack(run.stderr);
  });
});

describe("amounts in tokens", () => {
  it("vault redeem --shares takes shares, not base units, and refuses what rounds to nothing", async () => {
    const deposit = await runCli([
      "--json",
      "vault",
      "deposit",
      ...chain,
      "--dev-account",
      "4",
      "--model",
      "1",
      "--amount",
      "2",
    ]);
    expect(deposit.code).toBe(0);
    const tooFine = await runCli([
      "vault",
      "redeem",
      ...chain,
      "--dev-account",
      "4",
      "--model",
      "1",
      "--shares",
      "0.0000000000001",
    ]);
    expect(tooFine.code).toBe(2);
    expect(tooFine.stderr).toMatch(/--shares: "0.0000000000001" has more than 12 decimals/);
    const tooMany = await runCli([
      "vault",
      "redeem",
      ...chain,
      "--dev-account",
      "4",
      "--model",
      "1",
      "--shares",
      "50",
    ]);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain("you hold 2 shares");
    const run = await runCli([
      "--json",
      "vault",
      "redeem",
      ...chain,
      "--dev-account",
      "4",
      "--model",
      "1",
      "--shares",
      "0.5",
    ]);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ shares: "500000000000", assets: "500000" });
  });

  it("channel close prints the end of the challenge period as a date with the time left", async () => {
    const open = await runCli([
      "--json",
      "channel",
      "open",
      ...chain,
      "--dev-account",
      "4",
      "--runner",
      address(2),
      "--amount",
      "1",
    ]);
    const channel = String(open.json().channelId);
    const run = await runCli(["channel", "close", channel, ...chain, "--dev-account", "4"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d UTC \(in [^)]+\)/);
    expect(run.stdout).not.toMatch(/T\d\d:\d\d:\d\d/);
    // Too early to withdraw: the contract's refusal, decoded, exit 4 (as docs/cli.md shows it).
    const early = await runCli(["channel", "withdraw", channel, ...chain, "--dev-account", "4"]);
    expect(early.code).toBe(4);
    expect(early.stderr).toMatch(
      /PaymentChannels\.withdraw reverted: PaymentChannels_ChallengePeriodActive\(channelId=\d+, closesAt=\d+\)/,
    );
  });
});

describe("refused before anything is locked for good", () => {
  it("runner register --bond below the minimum: exit 2, no bond locked", async () => {
    const run = await runCli([
      "runner",
      "register",
      ...chain,
      "--dev-account",
      "3",
      "--endpoint",
      "http://127.0.0.1:2",
      "--bond",
      "0.5",
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--bond 0.5 tUSD is below the registry's minimum bond of [\d.]+ tUSD/);
    const client = createOpenLoRAClient({ rpcUrl: devnet.rpcUrl, deployment: devnet.deployment });
    expect((await getRunner(client, address(3))).bond).toBe(0n);
  });
});

describe("openlora serve refuses at start what it could not serve", () => {
  const serve = (args: string[], runnerKey: Hex) =>
    runCli(
      [
        "serve",
        "--rpc",
        devnet.rpcUrl,
        "--deployments",
        chain[3] as string,
        "--data-dir",
        mkdtempSync(join(dir, "data-")),
        ...args,
      ],
      { OPENLORA_RUNNER_KEY: runnerKey },
      60_000,
    );

  it("an adapter file that does not exist: exit 2", async () => {
    const run = await serve(["--port", "0", "--adapters", join(dir, "missing")], key(2));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("adapter file not found");
  });

  it("an adapter not registered on-chain: exit 2 with the command to run", async () => {
    const adapter = join(dir, "unregistered");
    mkdirSync(adapter);
    copyFileSync(join(SPAM, "manifest.json"), join(adapter, "manifest.json"));
    writeFileSync(join(adapter, "adapter_model.safetensors"), "not the spam filter");
    const run = await serve(["--port", "0", "--adapters", adapter], key(2));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `is not registered on-chain: register it first with \`openlora register ${adapter}\``,
    );
  });

  it("a runner key that is not registered: exit 2 with the command to run", async () => {
    const run = await serve(["--port", "0", "--adapters", SPAM], key(4));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`runner ${address(4)} (OPENLORA_RUNNER_KEY) is not registered`);
    expect(run.stderr).toContain("openlora runner register");
  });

  it("a port in use: exit 2, naming the port", async () => {
    const port = (silent.address() as { port: number }).port;
    const run = await serve(["--port", String(port), "--adapters", SPAM], key(2));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
    noStack(run.stderr);
  });
});

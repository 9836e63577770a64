// The runner accepts exactly the voucher signatures the contract accepts. A differential test on a
// real anvil with the deployed protocol: every mutation of a good signature is put to the runner's
// payment gate (with the in-thread VoucherVerifier on each native backend, and with the signature
// thread the runner uses) and to the contract (Settlement.settle of a one-voucher batch, simulated
// as the runner's settler would send it), for an EOA consumer, its session keys, and contract
// consumers (ERC-1271). A refusal counts only as PaymentChannels_InvalidSignature on-chain and as
// voucher_wrong_signer at the gate; anything else fails the test.
//
// Also here, on the same chain: a lane that another runner on this key settles beyond what this
// runner accepted, after its first check against the chain, is refused from then on.
import {
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  concat,
  createWalletClient,
  type Hex,
  http,
  keccak256,
  type LocalAccount,
  numberToHex,
  parseAbi,
  size,
  slice,
  toHex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { chainFor, createOpenLoRAClient } from "../../sdk/client";
import { openChannel, setSessionKey } from "../../sdk/consumer/channels";
import { paymentChannelsAbi, settlementAbi } from "../../sdk/generated/abis";
import {
  EMPTY_TRANSCRIPT,
  extendTranscript,
  paymentChannelsDomain,
  requestHash,
  type Voucher,
  voucherTypes,
} from "../../sdk/protocol/typedData";
import { mintTestUsd } from "../../sdk/token";
import { creationBytecode } from "../chain/artifacts";
import { type CryptoBackend, loadAddonBackend, loadPackagesBackend } from "../crypto/nativeBackend";
import { ChainChannelSource, SettledLaneWatcher } from "../runner/chain";
import {
  deployProtocol,
  devAccount,
  type Protocol,
  privateKeyOf,
  registerAdapter,
  registerBaseModel,
  registerRunner,
} from "../runner/testing/protocolFixture";
import { PaymentGate, PaymentRefusedError, type VoucherSignerRecovery } from "./paymentGate";
import { SignatureThread } from "./signatureThread";
import { VoucherVerifier } from "./voucherVerifier";

const PRICE = 1_000n;
const DEPOSIT = 1_000_000n;
/** secp256k1's order. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const settleAbi = [...settlementAbi, ...paymentChannelsAbi.filter((item) => item.type === "error")] as const;
const walletAbi = parseAbi(["constructor(address owner_)"]);

/**
 * Runtime code of contract consumers written by hand (set with anvil_setCode): each answers every
 * call with the same bytes. `approvesAll` returns ERC-1271's magic word; `dirtyMagic` the selector
 * with a nonzero byte in the word's padding, and `shortMagic` only the selector's 4 bytes, which
 * SignatureChecker refuses (a decoder of bytes4 alone would take both).
 */
const returning = (word: Hex, length: number): Hex =>
  concat(["0x7f", word, "0x600052", `0x60${length.toString(16).padStart(2, "0")}`, "0x6000f3"]);
const MAGIC: Hex = `0x1626ba7e${"00".repeat(28)}`;
const HAND_WALLETS = {
  approvesAll: returning(MAGIC, 32),
  dirtyMagic: returning(`0x1626ba7e${"00".repeat(27)}01`, 32),
  shortMagic: returning(MAGIC, 4),
};

type Decision = "accepted" | "refused";
interface Case {
  label: string;
  channelId: bigint;
  voucher: Voucher;
  requestHash: Hex;
  signature: Hex;
}

let p: Protocol;
let runner: LocalAccount;
let modelId: bigint;
let consumer: LocalAccount;
let sessionKey: LocalAccount;
const stranger = privateKeyToAccount(generatePrivateKey());
const walletOwner = privateKeyToAccount(generatePrivateKey());
const rotatedKey = privateKeyToAccount(generatePrivateKey());
const newKey = privateKeyToAccount(generatePrivateKey());
let channels: Record<"eoa" | "rotated" | "wallet" | keyof typeof HAND_WALLETS, bigint>;
let thread: SignatureThread;
let source: ChainChannelSource;

const sdk = (account: LocalAccount) =>
  createOpenLoRAClient({ rpcUrl: p.anvil.rpcUrl, deployment: p.deployment, account });

/** Funds `address` and opens a channel from it to the runner, sending as it (impersonated on anvil). */
async function openChannelAs(address: Address): Promise<bigint> {
  await p.publicClient.request({ method: "anvil_impersonateAccount" as never, params: [address] as never });
  await p.publicClient.request({
    method: "anvil_setBalance" as never,
    params: [address, numberToHex(10n ** 18n)] as never,
  });
  await mintTestUsd(sdk(p.deployer), address, DEPOSIT);
  const wallet = createWalletClient({
    chain: chainFor(p.anvil.chainId, p.anvil.rpcUrl),
    account: address,
    transport: http(p.anvil.rpcUrl),
  });
  const send = async (request: Parameters<typeof wallet.writeContract>[0]) => {
    const receipt = await p.publicClient.waitForTransactionReceipt({
      hash: await wallet.writeContract(request),
    });
    if (receipt.status !== "success") throw new Error(`${request.functionName} reverted`);
  };
  const tokenAbi = parseAbi(["function approve(address spender, uint256 amount) returns (bool)"]);
  await send({
    address: p.deployment.paymentAsset,
    abi: tokenAbi,
    functionName: "approve",
    args: [p.deployment.paymentChannels, DEPOSIT],
  } as never);
  const before = await p.publicClient.readContract({
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "channelCount",
  });
  await send({
    address: p.deployment.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "open",
    args: [runner.address, DEPOSIT, "0x0000000000000000000000000000000000000000"],
  } as never);
  return before + 1n;
}

async function deployWallet(owner: Address): Promise<Address> {
  const hash = await p.wallet(p.deployer).deployContract({
    abi: walletAbi,
    bytecode: creationBytecode("MockERC1271Wallet"),
    args: [owner],
  } as never);
  const receipt = await p.publicClient.waitForTransactionReceipt({ hash });
  return receipt.contractAddress as Address;
}

/** A fresh address whose code is `runtime`. */
async function handWallet(runtime: Hex): Promise<Address> {
  const address = privateKeyToAccount(generatePrivateKey()).address;
  await p.publicClient.request({ method: "anvil_setCode" as never, params: [address, runtime] as never });
  return address;
}

/** The voucher of the `calls`-th call of a lane, as a consumer signs it (each call pays PRICE). */
function voucherOf(channelId: bigint, calls: bigint): { voucher: Voucher; requestHash: Hex } {
  let transcript = EMPTY_TRANSCRIPT;
  let last: Hex = EMPTY_TRANSCRIPT;
  for (let call = 1n; call <= calls; call++) {
    last = requestHash(channelId, modelId, call, `{"text":"call ${call}"}`);
    transcript = extendTranscript(transcript, last);
  }
  return {
    voucher: {
      channelId,
      modelId,
      cumulativeAmount: calls * PRICE,
      cumulativeCalls: calls,
      transcriptHash: transcript,
    },
    requestHash: last,
  };
}

function sign(signer: LocalAccount, voucher: Voucher, chainId = p.anvil.chainId): Promise<Hex> {
  return signer.signTypedData({
    domain: paymentChannelsDomain(chainId, p.deployment.paymentChannels),
    types: voucherTypes,
    primaryType: "Voucher",
    message: voucher,
  });
}

/** Every mutation of `signer`'s good signature of the lane's first voucher, and other signers'. */
async function casesFor(name: string, channelId: bigint, signer: LocalAccount): Promise<Case[]> {
  const { voucher, requestHash } = voucherOf(channelId, 1n);
  const good = await sign(signer, voucher);
  const r = slice(good, 0, 32);
  const s = BigInt(slice(good, 32, 64));
  const v = Number(BigInt(slice(good, 64, 65)));
  const yParity = BigInt(v - 27);
  const word = (value: bigint) => numberToHex(value, { size: 32 });
  const byte = (value: number) => numberToHex(value, { size: 1 });
  const twin = concat([r, word(N - s), byte(v === 27 ? 28 : 27)]);
  const mutations: [string, Hex][] = [
    ["good", good],
    ...[0, 1, 2, 3, 26, 29, 35, 36, 127, 255].map((x): [string, Hex] => [
      `v=${x}`,
      concat([r, word(s), byte(x)]),
    ]),
    ["v=0/1 form of v", concat([r, word(s), byte(v - 27)])],
    ["v flipped", concat([r, word(s), byte(v === 27 ? 28 : 27)])],
    ["high-s twin", twin],
    ["high-s twin, v=0/1", concat([r, word(N - s), byte(v === 27 ? 1 : 0)])],
    ["EIP-2098 compact (64 bytes)", concat([r, word(s | (yParity << 255n))])],
    ["empty", "0x"],
    ["63 bytes", slice(good, 0, 63)],
    ["66 bytes", concat([good, "0x00"])],
    ["130 bytes", concat([good, good])],
    ["r=0", concat([word(0n), word(s), byte(v)])],
    ["s=0", concat([r, word(0n), byte(v)])],
    ["r=n", concat([word(N), word(s), byte(v)])],
    ["s=n/2+1", concat([r, word((N >> 1n) + 1n), byte(v)])],
    ["another key", await sign(stranger, voucher)],
    ["session key", await sign(sessionKey, voucher)],
    ["signed for another chain", await sign(signer, voucher, 1)],
  ];
  expect(size(twin)).toBe(65);
  return mutations.map(([label, signature]) => ({
    label: `${name}: ${label}`,
    channelId,
    voucher,
    requestHash,
    signature,
  }));
}

/** What the runner's gate decides, through `recovery`: a fresh gate, so every case is the lane's first call. */
async function runnerDecision(recovery: VoucherSignerRecovery, c: Case): Promise<Decision> {
  const gate = new PaymentGate(recovery, runner.address, source);
  try {
    await gate.authorize({
      voucher: c.voucher,
      signature: c.signature,
      requestHash: c.requestHash,
      modelId,
      price: PRICE,
    });
    return "accepted";
  } catch (error) {
    if (error instanceof PaymentRefusedError && error.reason === "voucher_wrong_signer") return "refused";
    throw error;
  }
}

/** What Settlement.settle decides for a batch of this one voucher, sent by the runner. */
async function contractDecision(c: Case): Promise<Decision> {
  try {
    await p.publicClient.simulateContract({
      address: p.deployment.settlement,
      abi: settleAbi,
      functionName: "settle",
      args: [
        {
          receiptsRoot: keccak256(toHex(c.label)),
          totals: [{ modelId, calls: c.voucher.cumulativeCalls, amount: c.voucher.cumulativeAmount }],
          vouchers: [{ ...c.voucher, signature: c.signature }],
        },
      ],
      account: runner.address,
    });
    return "accepted";
  } catch (error) {
    const revert =
      error instanceof BaseError && error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (
      revert instanceof ContractFunctionRevertedError &&
      revert.data?.errorName === "PaymentChannels_InvalidSignature"
    )
      return "refused";
    throw error;
  }
}

/** The runner's verifiers: in-thread on each native backend this machine has, and the signature thread. */
function verifiers(): [string, VoucherSignerRecovery][] {
  const backends = [loadAddonBackend(), loadPackagesBackend()].filter((b): b is CryptoBackend => b !== null);
  return [
    ...backends.map((backend): [string, VoucherSignerRecovery] => [
      `VoucherVerifier(${backend.name})`,
      new VoucherVerifier(p.anvil.chainId, p.deployment.paymentChannels, backend),
    ]),
    ["SignatureThread", thread],
  ];
}

/** Each case's contract decision, and every verifier's decision where it differs. */
async function compare(cases: Case[]) {
  const decisions = new Map<string, Decision>();
  const disagreements: string[] = [];
  for (const c of cases) {
    const contract = await contractDecision(c);
    decisions.set(c.label, contract);
    for (const [name, recovery] of verifiers()) {
      const gate = await runnerDecision(recovery, c);
      if (gate !== contract) disagreements.push(`${c.label}: contract ${contract}, ${name} ${gate}`);
    }
  }
  return { decisions, disagreements };
}

beforeAll(async () => {
  p = await deployProtocol();
  runner = devAccount(1);
  consumer = devAccount(2);
  sessionKey = privateKeyToAccount(generatePrivateKey());
  const owner = devAccount(3);
  await registerRunner(p, runner, "http://127.0.0.1:1", 500);
  const baseModelId = await registerBaseModel(p, keccak256(toHex("base")));
  modelId = await registerAdapter(
    p,
    owner,
    { baseModelId, adapterHash: keccak256(toHex("adapter")), pricePerCall: PRICE, vaultShareBps: 0 },
    [{ account: owner, units: 1n }],
  );
  await mintTestUsd(sdk(p.deployer), consumer.address, 2n * DEPOSIT);
  const eoa = await openChannel(sdk(consumer), {
    runner: runner.address,
    amount: DEPOSIT,
    sessionKey: sessionKey.address,
  });
  const rotated = await openChannel(sdk(consumer), {
    runner: runner.address,
    amount: DEPOSIT,
    sessionKey: rotatedKey.address,
  });
  await setSessionKey(sdk(consumer), rotated.channelId, newKey.address); // rotatedKey signs until the challenge period ends
  channels = {
    eoa: eoa.channelId,
    rotated: rotated.channelId,
    wallet: await openChannelAs(await deployWallet(walletOwner.address)),
    approvesAll: await openChannelAs(await handWallet(HAND_WALLETS.approvesAll)),
    dirtyMagic: await openChannelAs(await handWallet(HAND_WALLETS.dirtyMagic)),
    shortMagic: await openChannelAs(await handWallet(HAND_WALLETS.shortMagic)),
  };
  thread = new SignatureThread({
    chainId: p.anvil.chainId,
    paymentChannels: p.deployment.paymentChannels,
    settlement: p.deployment.settlement,
    privateKey: privateKeyOf(1),
  });
  source = new ChainChannelSource(p.publicClient, p.deployment.paymentChannels, 60_000);
}, 240_000);

afterAll(async () => {
  vi.useRealTimers();
  await thread?.close();
  await p?.stop();
});

describe("voucher signatures: the runner and the contract agree", () => {
  it("for an EOA consumer and its session key", async () => {
    const { decisions, disagreements } = await compare(await casesFor("eoa", channels.eoa, consumer));
    expect(disagreements).toEqual([]);
    // The comparison has both outcomes: the rule is not vacuous.
    expect(decisions.get("eoa: good")).toBe("accepted");
    expect(decisions.get("eoa: session key")).toBe("accepted");
    for (const refused of [
      "v=0/1 form of v",
      "high-s twin",
      "EIP-2098 compact (64 bytes)",
      "another key",
      "r=0",
    ])
      expect(decisions.get(`eoa: ${refused}`)).toBe("refused");
  });

  it("for a contract consumer (ERC-1271) and for wallets that approve anything, or almost", async () => {
    const wallet = await compare(await casesFor("wallet", channels.wallet, walletOwner));
    expect(wallet.disagreements).toEqual([]);
    expect(wallet.decisions.get("wallet: good")).toBe("accepted");
    expect(wallet.decisions.get("wallet: v=0/1 form of v")).toBe("refused");
    const all = await compare(await casesFor("approvesAll", channels.approvesAll, stranger));
    expect(all.disagreements).toEqual([]);
    expect(all.decisions.get("approvesAll: empty")).toBe("accepted"); // any length, if the wallet says so
    for (const name of ["dirtyMagic", "shortMagic"] as const) {
      const almost = await compare(await casesFor(name, channels[name], stranger));
      expect(almost.disagreements).toEqual([]);
      expect(almost.decisions.get(`${name}: good`)).toBe("refused");
    }
  });

  it("for a replaced session key until its grace period ends, and not after", async () => {
    const { voucher, requestHash } = voucherOf(channels.rotated, 1n);
    const byRotated = async (label: string): Promise<Case> => ({
      label,
      channelId: channels.rotated,
      voucher,
      requestHash,
      signature: await sign(rotatedKey, voucher),
    });
    const during = await compare([
      await byRotated("previous key, valid"),
      { ...(await byRotated("new key")), signature: await sign(newKey, voucher) },
    ]);
    expect(during.disagreements).toEqual([]);
    expect(during.decisions.get("previous key, valid")).toBe("accepted");
    const { previousKeyValidUntil } = await p.publicClient.readContract({
      address: p.deployment.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "getChannel",
      args: [channels.rotated],
    });
    // Both clocks past the grace period: the chain's, and the runner's.
    const block = await p.publicClient.getBlock();
    const ahead = Number(BigInt(previousKeyValidUntil) - block.timestamp) + 1;
    await p.publicClient.request({ method: "evm_increaseTime" as never, params: [ahead] as never });
    await p.publicClient.request({ method: "evm_mine" as never, params: [] as never });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + ahead * 1000);
    const after = await compare([await byRotated("previous key, expired")]);
    vi.useRealTimers();
    expect(after.disagreements).toEqual([]);
    expect(after.decisions.get("previous key, expired")).toBe("refused");
  });
});

describe("a lane the chain has paid beyond this runner's journal", () => {
  it("is refused from the settlement on, though its first check against the chain has passed", async () => {
    await mintTestUsd(sdk(p.deployer), consumer.address, DEPOSIT);
    const { channelId } = await openChannel(sdk(consumer), { runner: runner.address, amount: DEPOSIT });
    const verifier = new VoucherVerifier(p.anvil.chainId, p.deployment.paymentChannels);
    const gate = new PaymentGate(verifier, runner.address, source);
    const warnings: unknown[] = [];
    const watcher = new SettledLaneWatcher(
      p.publicClient,
      p.deployment.paymentChannels,
      runner.address,
      gate,
      { warn: (details: unknown) => warnings.push(details) } as never,
      3_600_000, // polled by hand here
    );
    await watcher.start();
    const call = async (calls: bigint) => {
      const { voucher, requestHash } = voucherOf(channelId, calls);
      return { voucher, requestHash, signature: await sign(consumer, voucher), modelId, price: PRICE };
    };
    await gate.authorize(await call(1n)); // the lane is checked against the chain: nothing paid yet
    // Another runner on this key served three calls of the lane and settles them.
    const third = await call(3n);
    await p.write(runner, {
      address: p.deployment.settlement,
      abi: settleAbi,
      functionName: "settle",
      args: [
        {
          receiptsRoot: keccak256(toHex("the other runner's receipts")),
          totals: [{ modelId, calls: 3n, amount: 3n * PRICE }],
          vouchers: [{ ...third.voucher, signature: third.signature }],
        },
      ],
    } as never);
    await watcher.poll();
    watcher.stop();
    const refusal = await gate.authorize(await call(2n)).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(PaymentRefusedError);
    expect((refusal as PaymentRefusedError).reason).toBe("voucher_stale");
    expect(gate.lane(channelId, modelId)).toMatchObject({
      cumulativeCalls: 3n,
      cumulativeAmount: 3n * PRICE,
    });
    expect(warnings).toHaveLength(1);
    await expect(gate.authorize(await call(4n))).resolves.toBeDefined(); // the chain's next call is served
  });
});

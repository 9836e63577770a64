import { type Address, type Hex, keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeEach, describe, expect, it } from "vitest";
import {
  EMPTY_TRANSCRIPT,
  extendTranscript,
  paymentChannelsDomain,
  requestHash,
  type Voucher,
  voucherTypes,
} from "../../sdk/protocol/typedData";
import {
  type ChannelSnapshot,
  PaymentGate,
  PaymentRefusedError,
  type RefusalReason,
  type SettledLane,
} from "./paymentGate";
import { VoucherVerifier } from "./voucherVerifier";

const CHAIN_ID = 31337;
const CHANNELS: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const consumer = privateKeyToAccount(generatePrivateKey());
const sessionKey = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const runner = privateKeyToAccount(generatePrivateKey()).address;
const PRICE = 1_000n;
const MODEL = 1n;

let channel: ChannelSnapshot;
let gate: PaymentGate;
let freshReads: number;
/** What the chain has paid per lane (`channel:model`); a missing lane reads as nothing paid. */
let settledLanes: Map<string, SettledLane>;
let laneReads: number;

beforeEach(() => {
  channel = {
    channelId: 7n,
    consumer: consumer.address,
    runner,
    signers: [consumer.address, sessionKey.address],
    deposited: 3_500n,
    closing: false,
  };
  freshReads = 0;
  settledLanes = new Map();
  laneReads = 0;
  gate = new PaymentGate(new VoucherVerifier(CHAIN_ID, CHANNELS), runner, {
    channel: async (id, options) => {
      if (options?.fresh) freshReads++;
      return id === channel.channelId ? channel : null;
    },
    settledLane: async (channelId, modelId) => {
      laneReads++;
      return settledLanes.get(`${channelId}:${modelId}`) ?? { paidAmount: 0n, paidCalls: 0n };
    },
  });
});

/** Signs the voucher that pays the lane's next call, with optional tampering. */
async function nextCall(
  overrides: Partial<Voucher> = {},
  signer = consumer,
  options: { modelId?: bigint; price?: bigint; chainId?: number } = {},
) {
  const modelId = options.modelId ?? MODEL;
  const lane = gate.lane(channel.channelId, overrides.modelId ?? modelId);
  const callIndex = lane.cumulativeCalls + 1n;
  const hash = requestHash(channel.channelId, modelId, callIndex, `{"text":"call ${callIndex}"}`);
  const voucher: Voucher = {
    channelId: channel.channelId,
    modelId,
    cumulativeAmount: lane.cumulativeAmount + PRICE,
    cumulativeCalls: callIndex,
    transcriptHash: extendTranscript(lane.transcriptHash ?? EMPTY_TRANSCRIPT, hash),
    ...overrides,
  };
  const signature = await signer.signTypedData({
    domain: paymentChannelsDomain(options.chainId ?? CHAIN_ID, CHANNELS),
    types: voucherTypes,
    primaryType: "Voucher",
    message: voucher,
  });
  return { voucher, signature, requestHash: hash, modelId, price: options.price ?? PRICE };
}

async function refusal(call: Promise<unknown>): Promise<RefusalReason> {
  try {
    await call;
  } catch (error) {
    if (error instanceof PaymentRefusedError) return error.reason;
    throw error;
  }
  throw new Error("the payment was accepted");
}

describe("PaymentGate", () => {
  it("accepts consecutive vouchers from the consumer and its session key", async () => {
    const first = await gate.authorize(await nextCall());
    expect(first.payer).toBe(consumer.address);
    const second = await gate.authorize(await nextCall({}, sessionKey));
    expect(second.payer).toBe(consumer.address);
    expect(gate.lane(7n, MODEL)).toMatchObject({ cumulativeAmount: 2_000n, cumulativeCalls: 2n });
  });

  it("refuses a replayed voucher as stale", async () => {
    const call = await nextCall();
    await gate.authorize(call);
    expect(await refusal(gate.authorize(call))).toBe("voucher_stale");
  });

  it("refuses a voucher that skips calls", async () => {
    expect(await refusal(gate.authorize(await nextCall({ cumulativeCalls: 2n })))).toBe("voucher_stale");
  });

  it("refuses a voucher signed by someone else, or for another chain", async () => {
    expect(await refusal(gate.authorize(await nextCall({}, stranger)))).toBe("voucher_wrong_signer");
    expect(await refusal(gate.authorize(await nextCall({}, consumer, { chainId: 1 })))).toBe(
      "voucher_wrong_signer",
    );
    const call = await nextCall();
    expect(await refusal(gate.authorize({ ...call, signature: "0x1234" as Hex }))).toBe(
      "voucher_wrong_signer",
    );
  });

  it("refuses a voucher for another model's lane", async () => {
    const call = await nextCall({ modelId: 2n });
    expect(await refusal(gate.authorize({ ...call, modelId: MODEL }))).toBe("voucher_wrong_lane");
  });

  it("refuses a voucher that does not raise the amount, even for a free model", async () => {
    const free = await nextCall({ cumulativeAmount: 0n }, consumer, { price: 0n });
    expect(await refusal(gate.authorize(free))).toBe("voucher_underpaid");
    await expect(
      gate.authorize(await nextCall({ cumulativeAmount: 1n }, consumer, { price: 0n })),
    ).resolves.toBeDefined();
  });

  it("refuses underpaying vouchers and transcripts that skip this request", async () => {
    expect(await refusal(gate.authorize(await nextCall({ cumulativeAmount: PRICE - 1n })))).toBe(
      "voucher_underpaid",
    );
    const otherRequest = keccak256(toHex("another request"));
    expect(
      await refusal(
        gate.authorize(await nextCall({ transcriptHash: extendTranscript(EMPTY_TRANSCRIPT, otherRequest) })),
      ),
    ).toBe("transcript_mismatch");
  });

  it("refuses calls beyond the channel deposit across lanes, re-reading the chain first", async () => {
    await gate.authorize(await nextCall());
    await gate.authorize(await nextCall({}, consumer, { modelId: 2n }));
    await gate.authorize(await nextCall());
    expect(gate.committedIn(7n)).toBe(3_000n);
    expect(await refusal(gate.authorize(await nextCall({}, consumer, { modelId: 2n })))).toBe(
      "insufficient_channel_balance",
    );
    expect(freshReads).toBe(1); // it looked for a top-up before refusing
    channel = { ...channel, deposited: 4_500n }; // the consumer tops up
    await expect(gate.authorize(await nextCall({}, consumer, { modelId: 2n }))).resolves.toBeDefined();
    expect(gate.committedIn(7n)).toBe(4_000n);
  });

  it("refuses unknown, closing and other runners' channels", async () => {
    const call = await nextCall();
    expect(await refusal(gate.authorize({ ...call, voucher: { ...call.voucher, channelId: 99n } }))).toBe(
      "channel_unusable",
    );
    channel = { ...channel, closing: true };
    expect(await refusal(gate.authorize(call))).toBe("channel_unusable");
    channel = { ...channel, closing: false, runner: stranger.address };
    expect(await refusal(gate.authorize(call))).toBe("channel_unusable");
  });

  it("catches a lane up with what the chain has paid, so that replays of settled vouchers are stale", async () => {
    // Another runner instance (or this one before losing its data directory) served and settled
    // three calls of the lane; this gate's journal knows none of them.
    channel = { ...channel, deposited: 10_000n };
    settledLanes.set(`7:${MODEL}`, { paidAmount: 3n * PRICE, paidCalls: 3n });
    expect(await refusal(gate.authorize(await nextCall()))).toBe("voucher_stale");
    expect(gate.lane(7n, MODEL)).toMatchObject({
      cumulativeCalls: 3n,
      cumulativeAmount: 3_000n,
      transcriptHash: null,
    });
    expect(gate.committedIn(7n)).toBe(3_000n);
    // The next voucher is accepted with the transcript it carries (the chain keeps none) ...
    const fourth = await nextCall({ transcriptHash: keccak256(toHex("the consumer's own transcript")) });
    expect(fourth.voucher.cumulativeCalls).toBe(4n);
    await expect(gate.authorize(fourth)).resolves.toBeDefined();
    // ... and from then on the lane's transcript is checked again.
    expect(await refusal(gate.authorize(await nextCall({ transcriptHash: EMPTY_TRANSCRIPT })))).toBe(
      "transcript_mismatch",
    );
    expect(laneReads).toBe(1); // the chain is read once per lane
  });

  it("keeps a journal that is ahead of the chain", async () => {
    await gate.authorize(await nextCall());
    await gate.authorize(await nextCall());
    settledLanes.set(`7:${MODEL}`, { paidAmount: 1_000n, paidCalls: 1n });
    const restarted = new PaymentGate(new VoucherVerifier(CHAIN_ID, CHANNELS), runner, {
      channel: async () => channel,
      settledLane: async () => ({ paidAmount: 1_000n, paidCalls: 1n }),
    });
    restarted.restore(7n, MODEL, gate.lane(7n, MODEL));
    gate = restarted;
    await expect(gate.authorize(await nextCall())).resolves.toBeDefined();
    expect(gate.lane(7n, MODEL).cumulativeCalls).toBe(3n);
  });

  it("serves a journaled lane while the chain is down, and no lane it knows nothing of", async () => {
    await gate.authorize(await nextCall()); // known before the outage, but not yet read from the chain
    const known = gate.lane(7n, MODEL);
    let failedReads = 0;
    gate = new PaymentGate(new VoucherVerifier(CHAIN_ID, CHANNELS), runner, {
      channel: async () => channel,
      settledLane: async () => {
        failedReads++;
        throw new Error("connection refused");
      },
    });
    gate.restore(7n, MODEL, known);
    await expect(gate.authorize(await nextCall())).resolves.toBeDefined();
    // The next call of that lane is served on the journal without asking the chain again.
    await expect(gate.authorize(await nextCall())).resolves.toBeDefined();
    expect(failedReads).toBe(1);
    await expect(gate.authorize(await nextCall({}, consumer, { modelId: 2n }))).rejects.toThrow(
      "connection refused",
    );
  });

  it("adopts a settlement seen on-chain after the lane's first check: vouchers up to it are stale", async () => {
    channel = { ...channel, deposited: 10_000n };
    await gate.authorize(await nextCall()); // checked against the chain: nothing paid
    const secondOfOurs = await nextCall();
    // Another runner on this key settled three calls of the lane.
    const replaced = gate.observeSettledLane(7n, MODEL, { paidAmount: 3n * PRICE, paidCalls: 3n });
    expect(replaced).toMatchObject({ cumulativeCalls: 1n });
    expect(await refusal(gate.authorize(secondOfOurs))).toBe("voucher_stale");
    expect(gate.committedIn(7n)).toBe(3n * PRICE);
    await expect(gate.authorize(await nextCall())).resolves.toBeDefined(); // the fourth call
    // A settlement the gate is not behind (its own, confirmed later) changes nothing.
    expect(gate.observeSettledLane(7n, MODEL, { paidAmount: 2n * PRICE, paidCalls: 2n })).toBeNull();
    expect(gate.lane(7n, MODEL).cumulativeCalls).toBe(4n);
    expect(laneReads).toBe(1);
  });

  it("adopts a chain that paid more than the lane accepted, even in as many calls", async () => {
    channel = { ...channel, deposited: 10_000n };
    await gate.authorize(await nextCall());
    gate.observeSettledLane(7n, MODEL, { paidAmount: 5n * PRICE, paidCalls: 1n });
    // The next voucher must pay more than the chain has paid, or its settlement would be stale.
    expect(await refusal(gate.authorize(await nextCall({ cumulativeAmount: 2n * PRICE })))).toBe(
      "voucher_underpaid",
    );
    expect(gate.lane(7n, MODEL)).toMatchObject({ cumulativeAmount: 5n * PRICE, cumulativeCalls: 1n });
  });

  it("takes a replaced session key's signatures until its grace period ends, on the clock at each call", async () => {
    const now = BigInt(Math.floor(Date.now() / 1000));
    channel = {
      ...channel,
      signers: [consumer.address],
      previousSessionKey: { address: sessionKey.address, validUntil: now + 60n },
    };
    await expect(gate.authorize(await nextCall({}, sessionKey))).resolves.toBeDefined();
    channel = { ...channel, previousSessionKey: { address: sessionKey.address, validUntil: now } };
    expect(await refusal(gate.authorize(await nextCall({}, sessionKey)))).toBe("voucher_wrong_signer");
  });

  it("asks a contract consumer's ERC-1271 approval only for signatures that do not recover to a signer", async () => {
    const asked: { account: Address; digest: Hex; signature: Hex }[] = [];
    let approve = true;
    const verifier = new VoucherVerifier(CHAIN_ID, CHANNELS);
    gate = new PaymentGate(verifier, runner, {
      channel: async () => channel,
      settledLane: async () => ({ paidAmount: 0n, paidCalls: 0n }),
      contractApproves: async (account, digest, signature) => {
        asked.push({ account, digest, signature });
        return approve;
      },
    });
    await gate.authorize(await nextCall()); // the consumer's own ECDSA signature: no call to the chain
    expect(asked).toHaveLength(0);
    const compact = await nextCall({}, stranger);
    const call = { ...compact, signature: compact.signature.slice(0, 130) as Hex }; // 64 bytes
    await expect(gate.authorize(call)).resolves.toMatchObject({ payer: consumer.address });
    expect(asked).toEqual([
      { account: consumer.address, digest: toHex(verifier.digest(call.voucher)), signature: call.signature },
    ]);
    approve = false;
    const refused = await gate.authorize(await nextCall({}, stranger)).catch((error: unknown) => error);
    expect(refused).toMatchObject({
      reason: "voucher_wrong_signer",
      message: expect.stringMatching(/ERC-1271/),
    });
    // Not bytes at all: never sent to the wallet.
    expect(await refusal(gate.authorize({ ...(await nextCall()), signature: "0xzz" as Hex }))).toBe(
      "voucher_wrong_signer",
    );
    expect(asked).toHaveLength(2);
  });

  it("rolls back an unserved call so that the consumer's next voucher is accepted", async () => {
    const call = await nextCall();
    const authorization = await gate.authorize(call);
    gate.rollback(call.voucher, authorization);
    expect(gate.lane(7n, MODEL).cumulativeCalls).toBe(0n);
    expect(gate.committedIn(7n)).toBe(0n);
    await expect(gate.authorize(call)).resolves.toBeDefined();
  });
});

// The openlora-channel scheme's own decisions, as a stock x402 client drives it (createPaymentPayload
// with the terms, then the onPaymentResponse hook); x402Scheme.anvil.test.ts pays a real runner.
import type { PaymentRequirements } from "@x402/core/types";
import { keccak256, toBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { requestHash } from "../protocol/typedData";
import { ChannelLanes } from "./lanes";
import { PaymentClientError } from "./payingFetch";
import { OpenLoRAChannelScheme } from "./x402Scheme";

const CHANNELS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const consumer = privateKeyToAccount(generatePrivateKey());
const body = '{"inputs":[]}';
/** An accepts entry as a stock client hands it over: JSON, numbers as strings. */
const requirements = (extra: Record<string, unknown> = {}): PaymentRequirements => ({
  scheme: "openlora-channel",
  network: "eip155:31337",
  amount: "1000",
  asset: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  payTo: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  maxTimeoutSeconds: 60,
  extra: {
    paymentChannels: CHANNELS,
    settlement: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    modelId: "1",
    adapterHash: `0x${"11".repeat(32)}`,
    bodyHash: keccak256(toBytes(body)),
    ...extra,
  },
});

function scheme() {
  const lanes = new ChannelLanes(consumer, 31337, CHANNELS, 4n);
  return { lanes, scheme: new OpenLoRAChannelScheme({ lanes, maxPricePerCall: 2_000n }) };
}

/** What a stock client tells the scheme's hook after a paid request. */
const answered = (payload: Record<string, unknown>, settleResponse?: Record<string, unknown>) => ({
  paymentPayload: { x402Version: 2, accepted: requirements(), payload },
  requirements: requirements(),
  ...(settleResponse ? { settleResponse } : {}),
});

describe("openlora-channel scheme", () => {
  it("signs this body's request hash at its own next call index, from the terms alone", async () => {
    const { scheme: s, lanes } = scheme();
    const paid = await s.createPaymentPayload(2, requirements());
    expect(paid.payload).toMatchObject({
      voucher: { channelId: "4", modelId: "1", cumulativeAmount: "1000", cumulativeCalls: "1" },
      requestHash: requestHash(4n, 1n, 1n, body),
    });
    expect(lanes.cursor(1n).cumulativeCalls).toBe(1n);
  });

  it("refuses terms it cannot pay, with a clear error and no call index taken", async () => {
    const { scheme: s, lanes } = scheme();
    const noBodyHash = requirements({ bodyHash: undefined });
    await expect(s.createPaymentPayload(2, noBodyHash)).rejects.toThrow(/offers no bodyHash/);
    await expect(s.createPaymentPayload(2, { ...requirements(), amount: "2001" })).rejects.toThrow(
      /price is above this client's limit/,
    );
    await expect(
      s.createPaymentPayload(2, requirements(), { maxAmountPerPayment: "999" }),
    ).rejects.toBeInstanceOf(PaymentClientError);
    await expect(
      s.createPaymentPayload(2, { ...requirements(), network: "eip155:1" as const }),
    ).rejects.toThrow(/another chain/);
    await expect(s.createPaymentPayload(2, requirements({ modelId: "-1" }))).rejects.toThrow(/extra.modelId/);
    expect(lanes.cursor(1n).cumulativeCalls).toBe(0n);
  });

  it("lets a lane's next call sign only once the one before was answered, and gives back a refused index", async () => {
    const { scheme: s, lanes } = scheme();
    const first = await s.createPaymentPayload(2, requirements());
    let secondSigned = false;
    const second = s.createPaymentPayload(2, requirements()).then((p) => {
      secondSigned = true;
      return p;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(secondSigned).toBe(false); // waits for the first call's answer
    // The first is refused for a reason a new voucher cannot cure: its index is given back.
    const refusal = {
      success: false,
      errorReason: "insufficient_channel_balance",
      transaction: "",
      network: "eip155:31337",
    };
    const hook = s.schemeHooks.onPaymentResponse as NonNullable<typeof s.schemeHooks.onPaymentResponse>;
    expect(await hook(answered(first.payload, refusal) as never)).toBeUndefined();
    expect((await second).payload).toMatchObject({ voucher: { cumulativeCalls: "1" } });
    expect(lanes.cursor(1n).cumulativeCalls).toBe(1n);
  });
});

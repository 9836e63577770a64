import { describe, expect, it } from "vitest";
import {
  decodePaymentPayload,
  decodePaymentRequired,
  encodeHeader,
  PaymentHeaderError,
  type PaymentTerms,
  paymentPayload,
} from "./x402";

const terms: PaymentTerms = {
  scheme: "openlora-channel",
  network: "eip155:31337",
  amount: 1000n,
  asset: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  payTo: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  maxTimeoutSeconds: 60,
  extra: {
    paymentChannels: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    settlement: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    modelId: 1n,
    adapterHash: `0x${"ab".repeat(32)}`,
  },
};
const voucher = {
  channelId: 3n,
  modelId: 1n,
  cumulativeAmount: 6000n,
  cumulativeCalls: 6n,
  transcriptHash: `0x${"cd".repeat(32)}` as const,
};
const signature = `0x${"11".repeat(65)}` as const;

describe("x402 headers", () => {
  it("round-trips terms and payments with bigints", () => {
    const required = {
      x402Version: 2,
      resource: { url: "u", description: "d", mimeType: "application/json" },
      accepts: [terms],
    };
    expect(decodePaymentRequired(encodeHeader(required)).accepts[0]).toEqual(terms);
    const payload = paymentPayload(terms, voucher, `0x${"ee".repeat(32)}`, signature);
    expect(decodePaymentPayload(encodeHeader(payload)).payload.voucher).toEqual(voucher);
  });

  it("names what is wrong in a malformed payment", () => {
    expect(() => decodePaymentPayload(undefined)).toThrow(/header is missing/);
    expect(() => decodePaymentPayload("%%%not base64")).toThrow(/not base64-encoded JSON/);
    const bad = paymentPayload(terms, { ...voucher, cumulativeAmount: -1n }, "0x12", signature);
    try {
      decodePaymentPayload(encodeHeader(bad));
      throw new Error("accepted a malformed payment");
    } catch (error) {
      expect(error).toBeInstanceOf(PaymentHeaderError);
      const { issues } = error as PaymentHeaderError;
      expect(issues.some((i) => i.startsWith("payload.voucher.cumulativeAmount"))).toBe(true);
      expect(issues.some((i) => i.startsWith("payload.requestHash"))).toBe(true);
    }
  });
});

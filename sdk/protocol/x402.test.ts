import { describe, expect, it } from "vitest";
import {
  decodePaymentPayload,
  decodePaymentRequired,
  decodePaymentResponse,
  encodeHeader,
  PaymentHeaderError,
  type PaymentTerms,
  paymentPayload,
  paymentPayloadSchema,
  paymentRefusal,
  paymentResponse,
  quickPaymentPayload,
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

  it("writes PAYMENT-RESPONSE as x402's settlement response: our fields under extra, no payer on a refusal", () => {
    const receipt = {
      requestHash: `0x${"ee".repeat(32)}` as const,
      modelId: 1n,
      adapterHash: terms.extra.adapterHash,
      outputHash: `0x${"aa".repeat(32)}` as const,
      channelId: 3n,
      callIndex: 6n,
    };
    const fields = { receipt, receiptSignature: signature, runner: terms.payTo };
    const paid = paymentResponse({ network: "eip155:31337", payer: terms.payTo, ...fields });
    const wire = JSON.parse(Buffer.from(encodeHeader(paid), "base64").toString());
    expect(Object.keys(wire).sort()).toEqual(["extra", "network", "payer", "success", "transaction"]);
    // x402's transaction is the settlement's hash: none is sent until the batch settles.
    expect(wire.transaction).toBe("");
    expect(decodePaymentResponse(encodeHeader(paid)).extra).toEqual({ ...fields, settlement: "deferred" });

    const lane = {
      channelId: 3n,
      cumulativeAmount: 5000n,
      cumulativeCalls: 5n,
      transcriptHash: voucher.transcriptHash,
    };
    const refused = paymentRefusal({ network: "eip155:31337", errorReason: "voucher_stale", lane });
    const refusal = decodePaymentResponse(encodeHeader(refused));
    expect(refusal).toEqual({
      success: false,
      errorReason: "voucher_stale",
      transaction: "",
      network: "eip155:31337",
      extra: { lane },
    });
    expect("payer" in refusal).toBe(false);
    const bare = paymentRefusal({ network: "eip155:31337", errorReason: "channel_unusable" });
    expect(Object.keys(bare).sort()).toEqual(["errorReason", "network", "success", "transaction"]);
    // An empty payer is no address: it is refused, not taken as one.
    expect(() => decodePaymentResponse(encodeHeader({ ...bare, payer: "" }))).toThrow(
      /payer: must be an address/,
    );
  });

  it("refuses numbers beyond uint256 in a payment, by hand and by the schema", () => {
    const tooBig = { ...voucher, channelId: 2n ** 256n + 3n };
    const json = JSON.parse(
      Buffer.from(
        encodeHeader(paymentPayload(terms, tooBig, `0x${"ee".repeat(32)}`, signature)),
        "base64",
      ).toString(),
    );
    expect(quickPaymentPayload(json)).toBeNull();
    expect(() => decodePaymentPayload(encodeHeader(json))).toThrow(/fit in uint256/);
    const largest = { ...voucher, channelId: 2n ** 256n - 1n };
    const ok = paymentPayload(terms, largest, `0x${"ee".repeat(32)}`, signature);
    expect(decodePaymentPayload(encodeHeader(ok)).payload.voucher.channelId).toBe(2n ** 256n - 1n);
  });

  it("decodes payments by hand exactly as the schema does, and leaves it everything else", () => {
    const lane = {
      channelId: 3n,
      cumulativeAmount: 5000n,
      cumulativeCalls: 5n,
      transcriptHash: voucher.transcriptHash,
    };
    const bases = [
      paymentPayload(terms, voucher, `0x${"ee".repeat(32)}`, signature),
      paymentPayload(
        { ...terms, extra: { ...terms.extra, lane } },
        voucher,
        `0x${"ee".repeat(32)}`,
        signature,
      ),
      {
        ...paymentPayload(
          { ...terms, extra: { ...terms.extra, lane: { ...lane, signature } } },
          voucher,
          `0x${"ee".repeat(32)}`,
          signature,
        ),
        resource: { url: "u", description: "d", mimeType: "application/json" },
      },
      paymentPayload(
        {
          ...terms,
          extra: {
            ...terms.extra,
            bodyHash: `0x${"bb".repeat(32)}`,
            lane: { ...lane, signature, nextRequestHash: `0x${"ee".repeat(32)}` },
          },
        },
        voucher,
        `0x${"ee".repeat(32)}`,
        signature,
      ),
    ].map((p) => JSON.parse(Buffer.from(encodeHeader(p), "base64").toString()));
    for (const base of bases) {
      expect(quickPaymentPayload(base)).toStrictEqual(paymentPayloadSchema.parse(base));
    }
    // Mutations of every kind at random places: whatever the hand check takes, the schema takes
    // too, with the same output.
    const rng = seeded(7);
    const junk = [
      null,
      5,
      -1,
      0,
      1.5,
      1e20,
      "",
      "-1",
      "1.5",
      "0x1",
      "007",
      "60",
      [],
      {},
      true,
      "zz",
      `0x${"G".repeat(64)}`,
      (2n ** 256n).toString(),
      `1${"0".repeat(78)}`,
    ];
    let taken = 0;
    for (let n = 0; n < 3_000; n++) {
      const payment = structuredClone(bases[n % bases.length]);
      for (let k = 0; k < 1 + Math.floor(rng.next() * 2); k++) mutate(payment, rng, junk);
      const quick = quickPaymentPayload(payment);
      const schema = paymentPayloadSchema.safeParse(payment);
      if (quick === null) continue;
      taken++;
      expect(schema.success).toBe(true);
      expect(quick).toStrictEqual(schema.data);
    }
    expect(taken).toBeGreaterThan(100); // mutations that keep a payment valid (extra keys, leading zeros)
  });
});

/** Replaces, deletes or adds one value somewhere in a JSON tree. */
function mutate(node: Record<string, unknown>, rng: { next(): number }, junk: unknown[]): void {
  const keys = Object.keys(node);
  const key = keys[Math.floor(rng.next() * keys.length)] as string;
  const child = node[key];
  const roll = rng.next();
  if (child && typeof child === "object" && !Array.isArray(child) && roll < 0.6) {
    mutate(child as Record<string, unknown>, rng, junk);
  } else if (roll < 0.7) {
    delete node[key];
  } else if (roll < 0.8) {
    node[`extra${Math.floor(rng.next() * 3)}`] = "kept out";
  } else if (typeof child === "string" && roll < 0.9) {
    node[key] = `0${child}`;
  } else {
    node[key] = junk[Math.floor(rng.next() * junk.length)];
  }
}

/** A small seeded generator (xorshift32), so that every run mutates the same way. */
function seeded(seed: number) {
  let x = seed;
  return {
    next(): number {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    },
  };
}

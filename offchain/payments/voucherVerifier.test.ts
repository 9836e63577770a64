import { type Hex, hashTypedData, keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import {
  EMPTY_TRANSCRIPT,
  paymentChannelsDomain,
  type Voucher,
  voucherTypes,
} from "../../sdk/protocol/typedData";
import { SignatureError } from "./nativeEip712";
import { VoucherVerifier } from "./voucherVerifier";

const CHANNELS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const consumer = privateKeyToAccount(generatePrivateKey());
const voucher: Voucher = {
  channelId: 3n,
  modelId: 2n,
  cumulativeAmount: 1_500_000n,
  cumulativeCalls: 150n,
  transcriptHash: keccak256(toHex("transcript")),
};

function sign(v: Voucher, chainId = 31337, contract: `0x${string}` = CHANNELS) {
  return consumer.signTypedData({
    domain: paymentChannelsDomain(chainId, contract),
    types: voucherTypes,
    primaryType: "Voucher",
    message: v,
  });
}

describe("VoucherVerifier", () => {
  const verifier = new VoucherVerifier(31337, CHANNELS);

  it("computes viem's EIP-712 digest", () => {
    for (const v of [voucher, { ...voucher, transcriptHash: EMPTY_TRANSCRIPT, cumulativeCalls: 0n }]) {
      const expected = hashTypedData({
        domain: paymentChannelsDomain(31337, CHANNELS),
        types: voucherTypes,
        primaryType: "Voucher",
        message: v,
      });
      expect(toHex(verifier.digest(v))).toBe(expected);
    }
  });

  it("recovers the consumer from its signature", async () => {
    expect(verifier.recoverSigner(voucher, await sign(voucher))).toBe(consumer.address);
  });

  it("recovers someone else when any field or the domain differs", async () => {
    const signature = await sign(voucher);
    expect(verifier.recoverSigner({ ...voucher, cumulativeAmount: 1_500_001n }, signature)).not.toBe(
      consumer.address,
    );
    expect(verifier.recoverSigner({ ...voucher, modelId: 3n }, signature)).not.toBe(consumer.address);
    const otherChain = await sign(voucher, 1);
    expect(verifier.recoverSigner(voucher, otherChain)).not.toBe(consumer.address);
    const otherContract = await sign(voucher, 31337, "0x0000000000000000000000000000000000000001");
    expect(verifier.recoverSigner(voucher, otherContract)).not.toBe(consumer.address);
  });

  it("refuses malformed and malleable signatures with a clear error", async () => {
    const signature = await sign(voucher);
    expect(() => verifier.recoverSigner(voucher, signature.slice(0, 100) as Hex)).toThrow(/65 bytes/);
    expect(() => verifier.recoverSigner(voucher, `${signature.slice(0, 130)}1f` as Hex)).toThrow(
      /v must be 27 or 28/,
    );
    // v = 0 or 1 (the recovery id itself) is refused: PaymentChannels' ecrecover takes 27 or 28 only.
    const parity = Number.parseInt(signature.slice(130), 16) - 27;
    expect(() => verifier.recoverSigner(voucher, `${signature.slice(0, 130)}0${parity}` as Hex)).toThrow(
      /v must be 27 or 28/,
    );
    expect(() =>
      verifier.recoverSigner(voucher, `0x${"00".repeat(32)}${signature.slice(66)}` as Hex),
    ).toThrow(/r is out of range/);
    // s' = n - s with the flipped v is the same signature's malleable twin.
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${signature.slice(66, 130)}`);
    const v = Number.parseInt(signature.slice(130), 16);
    const twin = `${signature.slice(0, 66)}${(n - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}`;
    expect(() => verifier.recoverSigner(voucher, twin as Hex)).toThrow(SignatureError);
    expect(() => verifier.recoverSigner({ ...voucher, cumulativeCalls: 1n << 64n }, signature)).toThrow(
      /cumulativeCalls is out of range for uint64/,
    );
  });
});

import { hashTypedData, keccak256, recoverTypedDataAddress, toHex } from "viem";
import { generatePrivateKey } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { receiptLeaf } from "../../sdk/protocol/merkle";
import { type Receipt, receiptTypes, settlementDomain } from "../../sdk/protocol/typedData";
import { ReceiptSigner } from "./receiptSigner";

const SETTLEMENT = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const receipt: Receipt = {
  requestHash: keccak256(toHex("request")),
  modelId: 2n,
  adapterHash: keccak256(toHex("adapter")),
  outputHash: keccak256(toHex("output")),
  channelId: 5n,
  callIndex: 17n,
};

describe("ReceiptSigner", () => {
  const signer = new ReceiptSigner(31337, SETTLEMENT, generatePrivateKey());
  const typed = {
    domain: settlementDomain(31337, SETTLEMENT),
    types: receiptTypes,
    primaryType: "Receipt",
  } as const;

  it("computes viem's EIP-712 digest", () => {
    expect(toHex(signer.digest(receipt))).toBe(hashTypedData({ ...typed, message: receipt }));
  });

  it("signs receipts that viem recovers to the runner, low-s", async () => {
    const signature = signer.sign(receipt);
    expect(await recoverTypedDataAddress({ ...typed, message: receipt, signature })).toBe(signer.address);
    expect(
      BigInt(`0x${signature.slice(66, 130)}`) <=
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n,
    ).toBe(true);
    expect(signer.recover({ ...receipt, callIndex: 18n }, signature)).not.toBe(signer.address);
  });

  it("signs with the receipt's Merkle leaf from one hashStruct, as sign and the SDK give them", () => {
    expect(signer.signReceipt(receipt)).toEqual({
      signature: signer.sign(receipt),
      leaf: receiptLeaf(receipt),
    });
  });
});

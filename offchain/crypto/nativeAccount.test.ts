import { keccak256, parseGwei, recoverTransactionAddress, type TransactionSerializable, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { nativeSigningAccount } from "./nativeAccount";

const to = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const transactions: TransactionSerializable[] = [
  {
    type: "eip1559",
    chainId: 31337,
    nonce: 7,
    to,
    data: toHex(new Uint8Array(2_000).fill(0xab)),
    gas: 500_000n,
    maxFeePerGas: parseGwei("2"),
    maxPriorityFeePerGas: parseGwei("1"),
  },
  { type: "legacy", chainId: 1, nonce: 0, to, value: 10n ** 18n, gas: 21_000n, gasPrice: parseGwei("30") },
  {
    type: "eip2930",
    chainId: 8453,
    nonce: 3,
    to,
    gas: 60_000n,
    gasPrice: parseGwei("1"),
    accessList: [{ address: to, storageKeys: [keccak256("0x01")] }],
  },
];

describe("nativeSigningAccount", () => {
  it("signs transactions and hashes byte for byte as viem's private-key account does", async () => {
    for (let i = 0; i < 5; i++) {
      const privateKey = generatePrivateKey();
      const native = nativeSigningAccount(privateKey);
      const viem = privateKeyToAccount(privateKey);
      expect(native.address).toBe(viem.address);
      for (const transaction of transactions) {
        const signed = await native.signTransaction(transaction);
        expect(signed).toBe(await viem.signTransaction(transaction));
        expect(await recoverTransactionAddress({ serializedTransaction: signed as never })).toBe(
          viem.address,
        );
      }
      const hash = keccak256(toHex(`message ${i}`));
      expect(await native.sign({ hash })).toBe(await viem.sign({ hash }));
    }
  });
});

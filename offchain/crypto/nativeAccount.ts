/**
 * A viem account that signs on native libsecp256k1 (nativeBackend.ts): the runner's settlement
 * transactions. viem's own private-key account signs with pure-JS secp256k1, a few times slower
 * (`npm run bench:payments`), on the event loop that answers paid calls. Messages and typed data
 * are still viem's (the runner does not sign them on this account). The signatures are the same
 * bytes either way (RFC 6979).
 */
import { type Hex, serializeTransaction } from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { bytesToHexFast, hexToBytesFast, keccak256Bytes } from "./keccak";
import { cryptoBackend } from "./nativeBackend";

export function nativeSigningAccount(privateKey: Hex): PrivateKeyAccount {
  const account = privateKeyToAccount(privateKey);
  const key = hexToBytesFast(privateKey);
  const signDigest = (digest: Uint8Array) => {
    const { signature, recid } = cryptoBackend.sign(digest, key);
    return {
      r: bytesToHexFast(signature.subarray(0, 32)),
      s: bytesToHexFast(signature.subarray(32, 64)),
      v: 27n + BigInt(recid), // legacy transactions take v (EIP-155 derives theirs from it)
      yParity: recid,
    };
  };
  return {
    ...account,
    async sign({ hash }) {
      const { r, s, yParity } = signDigest(hexToBytesFast(hash));
      return `${r}${s.slice(2)}${yParity ? "1c" : "1b"}`; // v = 27 + yParity, as viem's sign gives
    },
    async signTransaction(transaction, { serializer = serializeTransaction } = {}) {
      // An EIP-4844 transaction is signed without its sidecars (the network wrapper).
      const signable = transaction.type === "eip4844" ? { ...transaction, sidecars: false } : transaction;
      const digest = keccak256Bytes(hexToBytesFast(await serializer(signable)));
      return serializer(transaction, signDigest(digest));
    },
  } as PrivateKeyAccount;
}

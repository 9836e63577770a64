/**
 * EIP-712 hashing and secp256k1 signing/recovery for the runner's hot path, on native
 * libsecp256k1 (crypto/nativeBackend.ts). The runner verifies a voucher and signs a receipt on
 * every paid call; viem's pure-JS versions of both are 20-50× slower. Tests hold every digest
 * here equal to viem's hashTypedData.
 */
import { type Address, domainSeparator, getAddress, type Hex, hexToBytes, keccak256, toBytes } from "viem";
import { bytesToHexFast, hexToBytesFast, keccak256Bytes } from "../crypto/keccak";
import { type CryptoBackend, cryptoBackend } from "../crypto/nativeBackend";

/** The secp256k1 curve order; ecrecover refuses r ≥ n. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** Half the curve order: signatures with a larger s are malleable twins, refused on-chain too. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

export class SignatureError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "SignatureError";
  }
}

export type Field = { uint: bigint; bits: 64 | 256 } | { bytes32: Hex };

export function typeHash(type: string): Uint8Array {
  return hexToBytes(keccak256(toBytes(type)));
}

/** hashTypedData for one domain, over structs given as their type hash and 32-byte fields. */
export class TypedDataHasher {
  private readonly prefix = new Uint8Array(34); // 0x1901 ‖ domainSeparator

  constructor(
    domain: { name: string; version: string; chainId: number; verifyingContract: Address },
    private readonly backend: CryptoBackend = cryptoBackend,
  ) {
    this.prefix.set([0x19, 0x01]);
    this.prefix.set(hexToBytes(domainSeparator({ domain })), 2);
  }

  digest(structTypeHash: Uint8Array, fields: readonly Field[], names: readonly string[]): Uint8Array {
    return this.digestOf(structHash(structTypeHash, fields, names, this.backend.keccak256));
  }

  /** The digest of a struct already hashed (hashStruct). */
  digestOf(hashedStruct: Uint8Array): Uint8Array {
    const message = new Uint8Array(66);
    message.set(this.prefix, 0);
    message.set(hashedStruct, 34);
    return this.backend.keccak256(message);
  }
}

/** EIP-712 hashStruct of a struct whose fields all encode to one 32-byte word. */
export function structHash(
  structTypeHash: Uint8Array,
  fields: readonly Field[],
  names: readonly string[],
  hash = keccak256Bytes,
) {
  const struct = new Uint8Array(32 * (fields.length + 1));
  struct.set(structTypeHash, 0);
  fields.forEach((field, i) => {
    const offset = 32 * (i + 1);
    if ("bytes32" in field) {
      const bytes = hexToBytesOrThrow(field.bytes32, names[i] as string);
      if (bytes.length !== 32) throw new SignatureError(`${names[i]} must be 32 bytes`, { field: names[i] });
      struct.set(bytes, offset);
    } else {
      writeUint(struct, offset, field.uint, field.bits, names[i] as string);
    }
  });
  return hash(struct);
}

/** Decodes caller-supplied hex; malformed hex is a SignatureError (a 402), not a crash. */
function hexToBytesOrThrow(hex: string, name: string): Uint8Array {
  try {
    return hexToBytesFast(hex);
  } catch {
    throw new SignatureError(`${name} is not hex`, { field: name });
  }
}

function writeUint(out: Uint8Array, offset: number, value: bigint, bits: number, name: string) {
  if (value < 0n || value >= 1n << BigInt(bits)) {
    throw new SignatureError(`${name} is out of range for uint${bits}`, { field: name });
  }
  let v = value;
  for (let i = offset + 31; i >= offset && v > 0n; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/**
 * The address whose key made a 65-byte (r, s, v) signature over `digest`, under exactly the rule
 * PaymentChannels and Settlement apply (OpenZeppelin's ECDSA.tryRecover over the ecrecover
 * precompile): v is 27 or 28, 0 < r < n, 0 < s ≤ n/2. Anything else (v = 0/1, 64-byte EIP-2098
 * signatures, malleable high-s twins) is a SignatureError: the contract would refuse to pay it.
 */
export function recoverAddress(digest: Uint8Array, signature: Hex, backend = cryptoBackend): Address {
  const sig = hexToBytesOrThrow(signature, "signature");
  if (sig.length !== 65)
    throw new SignatureError("signature must be 65 bytes (r, s, v)", { length: sig.length });
  const v = sig[64] as number;
  if (v !== 27 && v !== 28) throw new SignatureError("signature v must be 27 or 28", { v });
  const r = BigInt(bytesToHexFast(sig.subarray(0, 32)));
  if (r === 0n || r >= N) throw new SignatureError("signature r is out of range");
  const s = BigInt(bytesToHexFast(sig.subarray(32, 64)));
  if (s === 0n || s > HALF_N) throw new SignatureError("signature s is not in the lower half order");
  const address = backend.recoverAddress(digest, sig.subarray(0, 64), v - 27);
  if (!address) throw new SignatureError("signature does not recover to a public key");
  return getAddress(bytesToHexFast(address));
}

/** A 65-byte (r, s, v = 27|28) low-s signature of `digest`. */
export function signDigest(digest: Uint8Array, privateKey: Hex): Hex {
  const { signature, recid } = cryptoBackend.sign(digest, hexToBytesFast(privateKey));
  const out = new Uint8Array(65);
  out.set(signature, 0);
  out[64] = 27 + recid;
  return bytesToHexFast(out);
}

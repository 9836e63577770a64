/**
 * The native code under the runner's hashing and signatures, behind one interface with two
 * implementations:
 *
 * - `addon`: our own module (offchain/native), keccak256 and secp256k1 on the system's
 *   libsecp256k1 (Debian's libsecp256k1-dev, 0.2 or newer). `npm ci` builds it where that
 *   library is installed (tools/build-native.sh).
 * - `packages`: the native bindings of the `keccak` and `secp256k1` npm packages, which every
 *   install has. Their libsecp256k1 is a 2019 copy, and their keccak takes four calls into C
 *   per hash: about a third fewer vouchers checked per second (`npm run bench:payments`).
 *
 * The addon is used where it was built. OPENLORA_CRYPTO=packages chooses the packages anyway;
 * OPENLORA_CRYPTO=addon refuses to start without the addon. Both sign with RFC 6979 nonces, so
 * they make the same signatures (the tests hold them equal).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface CryptoBackend {
  readonly name: "addon" | "packages";
  keccak256(bytes: Uint8Array): Uint8Array;
  /**
   * One level of a sorted-pair Merkle tree: for each pair of 32-byte nodes in `nodes`, keccak256
   * of the two with the smaller first, written to `out` (half as long).
   */
  hashSortedPairs(nodes: Uint8Array, out: Uint8Array): Uint8Array;
  /** The 20-byte address whose key made the 64-byte (r ‖ s) signature; null if none does. */
  recoverAddress(digest: Uint8Array, signature: Uint8Array, recid: number): Uint8Array | null;
  /** A 64-byte (r ‖ s) low-s signature of a 32-byte digest, with its recovery id. */
  sign(digest: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
}

const require = createRequire(import.meta.url);
export const ADDON_PATH = fileURLToPath(
  new URL("../native/build/Release/openlora_native.node", import.meta.url),
);

interface Addon {
  keccak256(bytes: Uint8Array, out: Uint8Array): Uint8Array;
  ecdsaRecoverAddress(digest: Uint8Array, signature: Uint8Array, recid: number): Uint8Array | null;
  ecdsaSign(digest: Uint8Array, privateKey: Uint8Array): Uint8Array;
  hashSortedPairs(nodes: Uint8Array, out: Uint8Array): Uint8Array;
}

/** Our module, or null where it was not built. */
export function loadAddonBackend(): CryptoBackend | null {
  if (!existsSync(ADDON_PATH)) return null;
  let addon: Addon;
  try {
    addon = require(ADDON_PATH) as Addon;
  } catch (error) {
    throw new Error(
      `${ADDON_PATH} was built but does not load (${(error as Error).message}): ` +
        "rebuild it with npm run build:native, or set OPENLORA_CRYPTO=packages",
    );
  }
  return {
    name: "addon",
    // A pooled Buffer: the addon writes into it in place, where a fresh on-heap array would
    // first have to be moved off the heap.
    keccak256: (bytes) => addon.keccak256(bytes, Buffer.allocUnsafe(32)),
    hashSortedPairs: (nodes, out) => addon.hashSortedPairs(nodes, out),
    recoverAddress: (digest, signature, recid) => addon.ecdsaRecoverAddress(digest, signature, recid),
    sign(digest, privateKey) {
      const out = addon.ecdsaSign(digest, privateKey);
      return { signature: out.subarray(0, 64), recid: out[64] as number };
    },
  };
}

interface KeccakState {
  initialize(rate: number, capacity: number): void;
  absorb(data: Buffer): void;
  absorbLastFewBits(bits: number): void;
  squeeze(length: number): Buffer;
}

/** The npm packages' native bindings. */
export function loadPackagesBackend(): CryptoBackend {
  // Load the bindings themselves: both packages silently fall back to pure JS when their
  // prebuild does not load, and a missing native module should fail loudly, not run slowly.
  const NativeKeccakState = require("node-gyp-build")(
    path.dirname(require.resolve("keccak/package.json")),
  ) as new () => KeccakState;
  const secp256k1: {
    ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
    ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  } = require("secp256k1/bindings");
  // One state reused: a hash runs start to finish synchronously. keccak256 is rate 1088 bits,
  // capacity 512, with the original Keccak padding (0x01).
  const state = new NativeKeccakState();
  const keccak256 = (bytes: Uint8Array) => {
    state.initialize(1088, 512);
    state.absorb(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    state.absorbLastFewBits(0x01);
    return state.squeeze(32);
  };
  return {
    name: "packages",
    keccak256,
    hashSortedPairs: (nodes, out) => hashSortedPairsWith(keccak256, nodes, out),
    recoverAddress(digest, signature, recid) {
      let publicKey: Uint8Array;
      try {
        publicKey = secp256k1.ecdsaRecover(signature, recid, digest, false);
      } catch {
        return null;
      }
      return keccak256(publicKey.subarray(1)).subarray(12);
    },
    sign: (digest, privateKey) => secp256k1.ecdsaSign(digest, privateKey),
  };
}

/** hashSortedPairs a hash at a time, for the packages (the addon does a level in one call). */
function hashSortedPairsWith(
  keccak256: (bytes: Uint8Array) => Uint8Array,
  nodes: Uint8Array,
  out: Uint8Array,
): Uint8Array {
  if (nodes.length % 64 !== 0 || out.length !== nodes.length / 2)
    throw new TypeError("nodes must be whole pairs of 32-byte nodes, and out half as long");
  const pair = Buffer.alloc(64);
  for (let at = 0; at < nodes.length; at += 64) {
    const left = nodes.subarray(at, at + 32);
    const right = nodes.subarray(at + 32, at + 64);
    const ordered = Buffer.compare(left, right) <= 0;
    pair.set(ordered ? left : right, 0);
    pair.set(ordered ? right : left, 32);
    out.set(keccak256(pair), at / 2);
  }
  return out;
}

function chooseBackend(choice = process.env.OPENLORA_CRYPTO ?? ""): CryptoBackend {
  if (choice === "packages") return loadPackagesBackend();
  if (choice === "addon") {
    const addon = loadAddonBackend();
    if (!addon)
      throw new Error(`OPENLORA_CRYPTO=addon, but ${ADDON_PATH} is not built: run npm run build:native`);
    return addon;
  }
  if (choice !== "") throw new Error(`OPENLORA_CRYPTO must be "addon" or "packages", not "${choice}"`);
  return loadAddonBackend() ?? loadPackagesBackend();
}

export const cryptoBackend: CryptoBackend = chooseBackend();

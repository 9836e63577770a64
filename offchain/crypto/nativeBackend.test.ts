import { spawnSync } from "node:child_process";
import { keccak256, recoverAddress, serializeSignature, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount, sign } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { type CryptoBackend, cryptoBackend, loadAddonBackend, loadPackagesBackend } from "./nativeBackend";

const addon = loadAddonBackend();
if (!addon) console.warn("offchain/native is not built (no libsecp256k1-dev): its tests are skipped");
const backends: CryptoBackend[] = [loadPackagesBackend(), ...(addon ? [addon] : [])];

const bytes = (length: number, seed: number) =>
  Uint8Array.from({ length }, (_, i) => (i * 131 + seed * 17 + 7) & 0xff);

describe.each(backends.map((backend) => [backend.name, backend] as const))(
  "%s crypto backend",
  (_, backend) => {
    it("hashes like viem's keccak256 at every length around the 136-byte rate, and views by their bytes", () => {
      for (const length of [...Array(300).keys(), 1_000, 61_000]) {
        const input = bytes(length, length);
        expect(toHex(backend.keccak256(input))).toBe(keccak256(input));
      }
      const view = bytes(200, 1).subarray(13, 150);
      expect(toHex(backend.keccak256(view))).toBe(keccak256(Uint8Array.from(view)));
    });

    it("signs as viem does (RFC 6979, low s) and recovers the signer's address", async () => {
      for (let i = 0; i < 20; i++) {
        const privateKey = generatePrivateKey();
        const digest = keccak256(toHex(i), "bytes");
        const { signature, recid } = backend.sign(digest, Buffer.from(privateKey.slice(2), "hex"));
        const expected = await sign({ hash: toHex(digest), privateKey });
        expect(toHex(signature)).toBe(`${expected.r}${expected.s.slice(2)}`);
        expect(recid).toBe(expected.yParity);
        const address = backend.recoverAddress(digest, signature, recid);
        expect(address && toHex(address)).toBe(privateKeyToAccount(privateKey).address.toLowerCase());
        // The other recovery id is another key's signature, as ecrecover on-chain would see it.
        const other = backend.recoverAddress(digest, signature, 1 - recid);
        const onChain = await recoverAddress({
          hash: toHex(digest),
          signature: serializeSignature({ ...expected, yParity: 1 - recid }),
        });
        expect(other && toHex(other)).toBe(onChain.toLowerCase());
      }
    });

    it("hashes a Merkle level: each pair of 32-byte nodes, the smaller first, like keccak256 of their concatenation", () => {
      const nodes = Buffer.concat(Array.from({ length: 40 }, (_, i) => bytes(32, i * 7)));
      nodes.set(nodes.subarray(0, 32), 32); // an equal pair
      const out = backend.hashSortedPairs(nodes, Buffer.alloc(nodes.length / 2));
      for (let pair = 0; pair < 20; pair++) {
        const left = nodes.subarray(pair * 64, pair * 64 + 32);
        const right = nodes.subarray(pair * 64 + 32, pair * 64 + 64);
        const [low, high] = Buffer.compare(left, right) <= 0 ? [left, right] : [right, left];
        expect(toHex(out.subarray(pair * 32, pair * 32 + 32))).toBe(keccak256(Buffer.concat([low, high])));
      }
      expect(() => backend.hashSortedPairs(new Uint8Array(96), new Uint8Array(48))).toThrow(TypeError);
      expect(() => backend.hashSortedPairs(new Uint8Array(64), new Uint8Array(64))).toThrow(/half as long/);
    });

    it("returns null for a signature that recovers to no key, and refuses an invalid secret key", () => {
      const digest = bytes(32, 3);
      expect(backend.recoverAddress(digest, new Uint8Array(64), 0)).toBeNull(); // r = s = 0
      expect(backend.recoverAddress(digest, new Uint8Array(64).fill(0xff), 0)).toBeNull(); // r, s ≥ n
      expect(() => backend.sign(digest, new Uint8Array(32))).toThrow();
    });
  },
);

describe.skipIf(!addon)("the addon's argument checks", () => {
  const native = addon as CryptoBackend;
  it("throws a TypeError naming the argument for a wrong type or length", () => {
    expect(() => native.keccak256("0x00" as unknown as Uint8Array)).toThrow(/bytes must be a Uint8Array/);
    expect(() => native.recoverAddress(new Uint8Array(31), new Uint8Array(64), 0)).toThrow(
      /digest must be 32 bytes, got 31/,
    );
    expect(() => native.recoverAddress(new Uint8Array(32), new Uint8Array(65), 0)).toThrow(
      /signature must be 64/,
    );
    expect(() => native.recoverAddress(new Uint8Array(32), new Uint8Array(64), 4)).toThrow(/recid/);
    expect(() => native.sign(new Uint8Array(32), new Uint8Array(33))).toThrow(/privateKey must be 32 bytes/);
    expect(() => native.hashSortedPairs([] as unknown as Uint8Array, new Uint8Array(0))).toThrow(
      /nodes must be a Uint8Array/,
    );
  });

  it("is the backend in use where it was built, unless OPENLORA_CRYPTO says otherwise", () => {
    expect(cryptoBackend.name).toBe(process.env.OPENLORA_CRYPTO === "packages" ? "packages" : "addon");
  });
});

describe("OPENLORA_CRYPTO", () => {
  /** Loads the module in a fresh process under `choice`; its output, and whether it started. */
  const loadWith = (choice: string) => {
    const child = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        'const m = await import("./offchain/crypto/nativeBackend.ts"); console.log(m.cryptoBackend.name)',
      ],
      { env: { ...process.env, OPENLORA_CRYPTO: choice }, encoding: "utf8" },
    );
    return { ok: child.status === 0, output: child.stdout + child.stderr };
  };

  it("chooses the packages on request, and refuses a value it does not know", () => {
    expect(loadWith("packages")).toMatchObject({ ok: true, output: expect.stringMatching(/^packages$/m) });
    expect(loadWith("bogus")).toMatchObject({
      ok: false,
      output: expect.stringContaining('OPENLORA_CRYPTO must be "addon" or "packages", not "bogus"'),
    });
  });

  it.skipIf(!addon)("chooses the addon on request where it is built", () => {
    expect(loadWith("addon")).toMatchObject({ ok: true, output: expect.stringMatching(/^addon$/m) });
  });
});

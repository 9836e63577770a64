/**
 * A content-addressed local store of adapter files: `<dir>/<keccak256>.safetensors`. Files are
 * written to a temporary name, fsync'd and renamed, so a crash never leaves a partial file
 * under a real name; a file that was tampered with afterwards fails its hash check on load.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import path from "node:path";
import type { Hex } from "viem";
import { contentHash } from "../ml/hash";

export class AdapterNotInStoreError extends Error {
  constructor(readonly details: { adapterHash: Hex; path: string }) {
    super(`adapter ${details.adapterHash} is not in the local store`);
    this.name = "AdapterNotInStoreError";
  }
}

export class AdapterStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  pathOf(adapterHash: Hex): string {
    if (!/^0x[0-9a-f]{64}$/.test(adapterHash)) throw new Error(`not an adapter hash: ${adapterHash}`);
    return path.join(this.dir, `${adapterHash}.safetensors`);
  }

  /** Stores adapter bytes under their hash; returns the hash. */
  put(bytes: Uint8Array): Hex {
    const hash = contentHash(bytes);
    const target = this.pathOf(hash);
    const temporary = `${target}.${process.pid}.tmp`;
    const fd = openSync(temporary, "w");
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, target);
    return hash;
  }

  /** Stores an adapter file's bytes; returns their hash. */
  putFile(file: string): Hex {
    return this.put(readFileSync(file));
  }

  /** The stored bytes (unverified: the cache checks them against the registered hash). */
  get(adapterHash: Hex): Uint8Array {
    const file = this.pathOf(adapterHash);
    try {
      return readFileSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new AdapterNotInStoreError({ adapterHash, path: file });
      }
      throw error;
    }
  }
}

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoraAdapter, referenceForward } from "../ml/adapter/adapter";
import { encodeAdapter } from "../ml/adapter/adapterFile";
import { type BaseModel, landeBaseModel } from "../ml/base/baseModel";
import { AdapterHashMismatchError } from "../ml/errors";
import { Rng } from "../ml/random";
import { AdapterCache, CacheFullError, landeSlots, ModelRefusedError } from "./adapterCache";
import { AdapterStore } from "./adapterStore";
import { MultiAdapterExecutor } from "./executor/multiAdapterExecutor";
import { randomAdapter } from "./testing/randomAdapter";

const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-cache-"));
const base = landeBaseModel();
const rng = new Rng(5);

const adapterWithLabels = (labels: string[]): LoraAdapter =>
  randomAdapter(rng, base, { rank: 2, labels, scale: 1, factorStd: 0.1, headStd: 0.1, biasStd: 0.1 });

let executor: MultiAdapterExecutor;
let store: AdapterStore;
const hashes: Hex[] = [];
const adapters: LoraAdapter[] = [];

beforeAll(async () => {
  executor = await MultiAdapterExecutor.create(base, { slots: 2, maxRank: 4, maxClasses: 4 });
  store = new AdapterStore(path.join(dir, "store"));
  for (const labels of [
    ["spam", "ham"],
    ["pos", "neg", "neutral"],
    ["a", "b"],
    ["x", "y"],
  ]) {
    const adapter = adapterWithLabels(labels);
    adapters.push(adapter);
    hashes.push(store.put(encodeAdapter(adapter, base as BaseModel)));
  }
});
afterAll(async () => {
  await executor?.release();
  rmSync(dir, { recursive: true, force: true });
});

const id = (i: number) => BigInt(i + 1);

describe("AdapterCache", () => {
  it("loads adapters just in time, serves them from their slot, and evicts the least recently used", async () => {
    const cache = new AdapterCache(landeSlots(base, executor.arena), store);
    const first = cache.acquire(id(0), hashes[0] as Hex);
    expect(first.labels).toEqual(["spam", "ham"]);
    first.release();
    cache.acquire(id(1), hashes[1] as Hex).release();
    cache.acquire(id(0), hashes[0] as Hex).release(); // model 1 is now the most recent
    const third = cache.acquire(id(2), hashes[2] as Hex); // evicts model 2 (least recent)
    expect(cache.stats).toMatchObject({ loads: 3, hits: 1, evictions: 1 });

    const x = base.featurizer?.featurize("claim your free prize") as Float32Array;
    const [p] = await executor.run([{ features: x, slot: third.slot }]);
    third.release();
    const expected = referenceForward(base, adapters[2] as LoraAdapter, x);
    expect(
      Math.max(...Array.from(p as Float32Array, (v, i) => Math.abs(v - (expected[i] as number)))),
    ).toBeLessThan(1e-5);

    cache.acquire(id(0), hashes[0] as Hex).release();
    expect(cache.stats.hits).toBe(2); // model 1 survived: it was more recent than model 2
  });

  it("never evicts a pinned adapter or one in use by a batch in flight", () => {
    const cache = new AdapterCache(landeSlots(base, executor.arena), store);
    cache.pin(id(0), hashes[0] as Hex);
    const inFlight = cache.acquire(id(1), hashes[1] as Hex);
    expect(() => cache.acquire(id(2), hashes[2] as Hex)).toThrow(CacheFullError);
    inFlight.release();
    cache.acquire(id(2), hashes[2] as Hex).release(); // takes model 2's slot, not the pinned one
    cache.acquire(id(0), hashes[0] as Hex).release();
    expect(cache.stats.evictions).toBe(1);
    expect(cache.stats.loads).toBe(3);
  });

  it("refuses a tampered adapter with a clear error and keeps serving the others", () => {
    const cache = new AdapterCache(landeSlots(base, executor.arena), store);
    const file = store.pathOf(hashes[3] as Hex);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff; // flip one weight byte
    writeFileSync(file, bytes);
    try {
      cache.acquire(id(3), hashes[3] as Hex);
      throw new Error("served a tampered adapter");
    } catch (error) {
      expect(error).toBeInstanceOf(ModelRefusedError);
      expect((error as ModelRefusedError).reason).toBeInstanceOf(AdapterHashMismatchError);
      expect((error as Error).message).toMatch(
        /model 4 is refused: adapter bytes do not match the expected hash/,
      );
    }
    expect(cache.refusal(id(3))).toBeInstanceOf(AdapterHashMismatchError);
    expect(() => cache.acquire(id(3), hashes[3] as Hex)).toThrow(ModelRefusedError);
    expect(cache.acquire(id(0), hashes[0] as Hex).labels).toEqual(["spam", "ham"]);
    expect(cache.stats.refusals).toBe(1); // the second refusal came from memory, not a reload
  });

  it("refuses a model whose registered hash is not in the store", () => {
    const cache = new AdapterCache(landeSlots(base, executor.arena), store);
    expect(() => cache.acquire(9n, `0x${"12".repeat(32)}`)).toThrow(/not in the local store/);
  });
});

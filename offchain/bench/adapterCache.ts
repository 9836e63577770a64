// `npm run bench:cache`: 10,000 registered adapters behind a 256 MB arena at the 768-wide
// benchmark base: resident memory, and the latency of a cold load (read from the store,
// keccak256 check against the registered hash, decode, write into an evicted slot) against
// a cache hit. Adapters are random, rank 8, 4 classes (about 60 KB each on disk).
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Hex, keccak256 } from "viem";
import { keccak256Bytes } from "../crypto/keccak";
import { encodeAdapter } from "../ml/adapter/adapterFile";
import { wideBenchmarkBase } from "../ml/base/baseModel";
import { Rng } from "../ml/random";
import { AdapterCache, landeSlots } from "../runner/adapterCache";
import { AdapterStore } from "../runner/adapterStore";
import { AdapterArena } from "../runner/executor/adapterArena";
import { MultiAdapterExecutor } from "../runner/executor/multiAdapterExecutor";
import { randomAdapter } from "../runner/testing/randomAdapter";
import { report } from "./table";

const ADAPTERS = Number(process.env.BENCH_ADAPTERS ?? 10_000);
const BUDGET_MB = 256;
const RANK = 8;
const CLASSES = 4;
const LOADS = 2_000;
const HASH_SAMPLES = 200;

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;

const base = wideBenchmarkBase();
const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-cache-"));
try {
  const rssStart = process.memoryUsage().rss;
  const store = new AdapterStore(dir);
  const rng = new Rng(9);
  const hashes: Hex[] = [];
  // One random template, varied per adapter by its first weights: generation stays fast and
  // every file still has its own hash.
  const template = randomAdapter(rng, base, {
    rank: RANK,
    labels: ["a", "b", "c", "d"], // CLASSES of them
    factorStd: 0.05,
    headStd: 0.05,
    biasStd: 0.05,
  });
  for (let i = 0; i < ADAPTERS; i++) {
    template.a[0] = i;
    template.b[0] = -i;
    hashes.push(store.put(encodeAdapter(template, base)));
  }

  const slots = Math.floor((BUDGET_MB * 2 ** 20) / AdapterArena.bytesPerSlot(base, RANK, CLASSES));
  const executor = await MultiAdapterExecutor.create(base, { slots, maxRank: RANK, maxClasses: CLASSES });
  const cache = new AdapterCache(landeSlots(base, executor.arena), store);
  const rssArena = process.memoryUsage().rss;

  // Fill the arena, then cycle through all adapters in order: with more adapters than slots,
  // every access of an LRU cache is then a miss that evicts the least recently used.
  for (let i = 0; i < slots; i++) cache.acquire(BigInt(i), hashes[i] as Hex).release();
  const cold: number[] = [];
  for (let n = 0; n < LOADS; n++) {
    const i = (slots + n) % ADAPTERS;
    const started = performance.now();
    cache.acquire(BigInt(i), hashes[i] as Hex).release();
    cold.push(performance.now() - started);
  }
  // Hits spread over the adapters the cold loop just loaded (all still resident).
  const resident = Math.min(LOADS, slots);
  const hot: number[] = [];
  for (let n = 0; n < LOADS; n++) {
    const i = (slots + ((n * 7919) % resident)) % ADAPTERS;
    const started = performance.now();
    cache.acquire(BigInt(i), hashes[i] as Hex).release();
    hot.push(performance.now() - started);
  }
  // The hash check alone, on the same files: native keccak (what the cache uses) against the
  // pure-JS keccak256 of viem, the baseline it replaced.
  const hashNative: number[] = [];
  const hashJs: number[] = [];
  for (let n = 0; n < HASH_SAMPLES; n++) {
    const bytes = store.get(hashes[n] as Hex);
    let started = performance.now();
    keccak256Bytes(bytes);
    hashNative.push(performance.now() - started);
    started = performance.now();
    keccak256(bytes, "bytes");
    hashJs.push(performance.now() - started);
  }
  for (const samples of [cold, hot, hashNative, hashJs]) samples.sort((a, b) => a - b);
  const rssEnd = process.memoryUsage().rss;
  await executor.release();

  const row = (what: string, samples: number[]) => ({
    what,
    samples: samples.length,
    "p50 ms": Number(percentile(samples, 0.5).toFixed(3)),
    "p99 ms": Number(percentile(samples, 0.99).toFixed(3)),
    "max ms": Number((samples.at(-1) as number).toFixed(3)),
  });
  report(
    `adapter cache: ${ADAPTERS} registered adapters, ${BUDGET_MB} MB arena (${slots} slots) at ${base.id}`,
    [
      row("cold load (store → hash check → slot)", cold),
      row("cache hit", hot),
      row("hash check alone, native keccak (used)", hashNative),
      row("hash check alone, viem's pure-JS keccak", hashJs),
    ],
    {
      "resident memory at start (MB)": mb(rssStart),
      "resident memory with the arena (MB)": mb(rssArena),
      "resident memory at the end (MB)": mb(rssEnd),
      "cold loads that evicted": cache.stats.evictions,
      aim: "cold-load p99 under 5 ms",
    },
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

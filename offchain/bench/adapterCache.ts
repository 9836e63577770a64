// `npm run bench:cache`: registered USE-lite PEFT adapters (rank 8 on all ten modules, a 3-label
// head, about 475 KB each) behind the runner's default cache (256 MB, arena rank 16, 8 classes):
// the latency of a cold load (read from the store, keccak256 check against the registered hash,
// decode, write into an evicted arena slot) against a cache hit, and where a cold load's time
// goes, each step timed alone on the same files.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Hex } from "viem";
import { contentHash } from "../ml/hash";
import { decodePeftAdapter } from "../ml/peft/adapterModel";
import { decodeSafetensors } from "../ml/peft/safetensors";
import { AdapterCache } from "../runner/adapterCache";
import { AdapterStore } from "../runner/adapterStore";
import { UseLiteArena } from "../runner/executor/useLiteArena";
import { UseLiteExecutor, useLiteBytesPerSlot } from "../runner/executor/useLiteExecutor";
import { useLiteGatherGraph } from "../runner/executor/useLiteGatherGraph";
import { fillAdapterStore, percentile } from "./servingInputs";
import { report } from "./table";

const ADAPTERS = Number(process.env.BENCH_ADAPTERS ?? 1_000);
const BUDGET_MB = 256;
const MAX_RANK = Number(process.env.BENCH_ARENA_RANK ?? 16);
const MAX_CLASSES = 8;
const LOADS = Number(process.env.BENCH_LOADS ?? 1_000);
const STEP_SAMPLES = 200;

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

function timed(samples: number, step: (n: number) => unknown): number[] {
  const times: number[] = [];
  for (let n = 0; n < samples; n++) {
    const started = performance.now();
    step(n);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-cache-"));
try {
  const rssStart = process.memoryUsage().rss;
  const store = new AdapterStore(dir);
  const hashes = fillAdapterStore(store, ADAPTERS);
  const fileBytes = readFileSync(store.pathOf(hashes[0] as Hex)).length;
  const slots = Math.floor((BUDGET_MB * 2 ** 20) / useLiteBytesPerSlot(MAX_RANK, MAX_CLASSES));
  const executor = await UseLiteExecutor.create({ slots, maxRank: MAX_RANK, maxClasses: MAX_CLASSES });
  const cache = new AdapterCache(executor, store);
  const rssArena = process.memoryUsage().rss;

  // Fill the arena, then cycle through the adapters in order: with more adapters than slots,
  // every access of an LRU cache is then a miss that evicts the least recently used.
  for (let i = 0; i < slots; i++) cache.acquire(BigInt(i), hashes[i] as Hex).release();
  const at = (n: number) => (slots + n) % ADAPTERS;
  const cold = timed(LOADS, (n) => cache.acquire(BigInt(at(n)), hashes[at(n)] as Hex).release());
  const resident = Math.min(LOADS, slots);
  const hitAt = (n: number) => (slots + LOADS - resident + ((n * 7919) % resident)) % ADAPTERS;
  const hot = timed(LOADS, (n) => cache.acquire(BigInt(hitAt(n)), hashes[hitAt(n)] as Hex).release());

  // A cold load's steps alone, on the same files.
  const fileOf = (n: number) => store.pathOf(hashes[n % ADAPTERS] as Hex);
  const files = Array.from({ length: STEP_SAMPLES }, (_, n) => readFileSync(fileOf(n)));
  const read = timed(STEP_SAMPLES, (n) => readFileSync(fileOf(n)));
  const hash = timed(STEP_SAMPLES, (n) => contentHash(files[n] as Uint8Array));
  const safetensors = timed(STEP_SAMPLES, (n) => decodeSafetensors(files[n] as Uint8Array));
  const decode = timed(STEP_SAMPLES, (n) => decodePeftAdapter(files[n] as Uint8Array));
  const decoded = files.map((bytes) => decodePeftAdapter(bytes).adapter);
  const arena = new UseLiteArena(4, MAX_RANK, useLiteGatherGraph().biases);
  const write = timed(STEP_SAMPLES, (n) => arena.write(n % 4, decoded[n] as never));
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
    `adapter cache: ${ADAPTERS} registered USE-lite adapters (${Math.round(fileBytes / 1024)} KB files), ${BUDGET_MB} MB (${slots} slots at rank ${MAX_RANK})`,
    [
      row("cold load (store → hash check → decode → slot)", cold),
      row("cache hit", hot),
      row("step: read the file", read),
      row("step: keccak256 of the file (native)", hash),
      row("step: safetensors decode (in decode)", safetensors),
      row("step: decode, hash and checks included", decode),
      row("step: arena write", write),
    ],
    {
      "resident memory at start (MB)": mb(rssStart),
      "resident memory with the arena (MB)": mb(rssArena),
      "resident memory at the end (MB)": mb(rssEnd),
      "cold loads that evicted": cache.stats.evictions,
      aim: "cold-load p99 ≤ 5 ms",
    },
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

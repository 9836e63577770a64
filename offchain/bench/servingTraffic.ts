// The realistic part of `npm run bench:serving`: Zipf(1.0) traffic over 1,000 registered
// adapters, served as the runner serves it (InferenceService: tokenize, the adapter cache over
// the content-addressed store, the micro-batching scheduler, and the executor on the inference
// thread, UseLiteThread, or on the event loop with `thread: false`), against the same texts
// through the same scheduler on the base alone (on a thread of its own, or on the event loop).
// Concurrent clients call back to back.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import type { Hex } from "viem";
import { Rng } from "../ml/random";
import { AdapterCache } from "../runner/adapterCache";
import { AdapterStore } from "../runner/adapterStore";
import { type TokenRow, UseLiteExecutor, useLiteBytesPerSlot } from "../runner/executor/useLiteExecutor";
import { UseLiteThread } from "../runner/executor/useLiteThread";
import { InferenceService } from "../runner/inference";
import { Scheduler } from "../runner/scheduler";
import { BaseAloneThread, baseAloneHere } from "./baseAlone";
import { fillAdapterStore, percentile, realisticTexts } from "./servingInputs";

export interface TrafficOptions {
  adapters: number;
  budgetMB: number;
  maxRank: number;
  maxClasses: number;
  threads: number;
  clients: number;
  /** Requests before the clock starts (they fill the cache). */
  warmUp: number;
  requestsPerRound: number;
  rounds: number;
  /** Executors on threads of their own (as the runner's default), or on the event loop. */
  thread: boolean;
}

/** AdapterCache that times each acquire that loaded an adapter (store → hash check → slot). */
class TimedCache extends AdapterCache {
  coldLoadsMs: number[] = [];

  override acquire(...args: Parameters<AdapterCache["acquire"]>) {
    const loads = this.stats.loads;
    const started = performance.now();
    const held = super.acquire(...args);
    if (this.stats.loads > loads) this.coldLoadsMs.push(performance.now() - started);
    return held;
  }
}

/**
 * The event loop's garbage collections within the runner's rounds (where its cold loads run):
 * their time, their count and how many paused it over 3 ms. Entries are matched to the rounds by
 * their start, since the observer reports them later.
 */
class GarbageCollections {
  private readonly entries: PerformanceEntry[] = [];
  private readonly rounds: [number, number][] = [];
  private readonly observer = new PerformanceObserver((list) => this.entries.push(...list.getEntries()));

  constructor() {
    this.observer.observe({ entryTypes: ["gc"] });
  }

  during(start: number, end: number): void {
    this.rounds.push([start, end]);
  }

  stop(): { ms: number; count: number; over3ms: number } {
    this.entries.push(...this.observer.takeRecords());
    this.observer.disconnect();
    const inRounds = this.entries.filter((e) =>
      this.rounds.some(([a, b]) => e.startTime >= a && e.startTime < b),
    );
    return {
      ms: inRounds.reduce((sum, e) => sum + e.duration, 0),
      count: inRounds.length,
      over3ms: inRounds.filter((e) => e.duration > 3).length,
    };
  }
}

/** Ranks 0..n-1 drawn with probability ∝ 1/(rank+1). */
function zipfSampler(n: number, rng: Rng): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1);
  return () => {
    const u = rng.next() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Runs `total` requests from `clients` concurrent loops; returns requests per second. */
async function closedLoop(total: number, clients: number, call: (i: number) => Promise<unknown>) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) await call(next++);
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

export async function measureTraffic(options: TrafficOptions) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "openlora-bench-serving-"));
  try {
    const store = new AdapterStore(dir);
    const hashes = fillAdapterStore(store, options.adapters);
    const slots = Math.floor(
      (options.budgetMB * 2 ** 20) / useLiteBytesPerSlot(options.maxRank, options.maxClasses),
    );
    const executorOptions = {
      slots,
      maxRank: options.maxRank,
      maxClasses: options.maxClasses,
      threads: options.threads,
    };
    const executor = options.thread
      ? await UseLiteThread.create(executorOptions)
      : await UseLiteExecutor.create(executorOptions);
    const cache = new TimedCache(executor, store);
    const batching = { maxBatch: 32, maxWaitMs: 1, maxQueue: 1_000_000 };
    let runnerBatches = 0;
    const backend = {
      prepare: (text: string) => executor.prepare(text),
      run: (rows: readonly TokenRow[]) => {
        runnerBatches++;
        return executor.run(rows);
      },
    };
    const service = new InferenceService(backend, cache, batching);
    const plain = options.thread
      ? await BaseAloneThread.create(options.threads)
      : await baseAloneHere(options.threads);
    const baseScheduler = new Scheduler<number[], Float32Array>({
      ...batching,
      run: (rows) => plain.run(rows),
    });
    const texts = realisticTexts(512);
    const rng = new Rng(23);
    const zipf = zipfSampler(options.adapters, rng);
    const runnerCall = () => {
      const id = zipf();
      const text = texts[Math.floor(rng.next() * texts.length)] as string;
      return service.infer(BigInt(id), hashes[id] as Hex, text);
    };
    const baseCall = () => {
      zipf(); // the same draws, so that both walk the same texts
      const text = texts[Math.floor(rng.next() * texts.length)] as string;
      return baseScheduler.submit("base", executor.prepare(text)); // the same tokenizer
    };

    await closedLoop(options.warmUp, options.clients, runnerCall);
    await closedLoop(Math.min(options.warmUp, 500), options.clients, baseCall);
    cache.coldLoadsMs = [];
    const before = { ...cache.stats };
    const batchesBefore = { runner: runnerBatches, base: baseScheduler.stats.batches };
    const runner: number[] = [];
    const base: number[] = [];
    const collections = new GarbageCollections();
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? ["runner", "base"] : ["base", "runner"];
      for (const which of order) {
        if (which === "runner") {
          const started = performance.now();
          runner.push(await closedLoop(options.requestsPerRound, options.clients, runnerCall));
          collections.during(started, performance.now());
        } else base.push(await closedLoop(options.requestsPerRound, options.clients, baseCall));
      }
    }
    const gc = collections.stop();
    const hits = cache.stats.hits - before.hits;
    const loads = cache.stats.loads - before.loads;
    const cold = [...cache.coldLoadsMs].sort((a, b) => a - b);
    await Promise.all([executor.release(), plain.release()]);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] as number;
    const requests = options.rounds * options.requestsPerRound;
    return {
      slots,
      runner: { median: median(runner), min: Math.min(...runner), max: Math.max(...runner) },
      base: { median: median(base), min: Math.min(...base), max: Math.max(...base) },
      hitRate: hits / (hits + loads),
      loads,
      evictions: cache.stats.evictions,
      coldP50: percentile(cold, 0.5),
      coldP99: percentile(cold, 0.99),
      coldMax: cold.at(-1) ?? 0,
      runnerBatchRows: requests / (runnerBatches - batchesBefore.runner),
      baseBatchRows: requests / (baseScheduler.stats.batches - batchesBefore.base),
      gc,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

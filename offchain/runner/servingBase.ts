/**
 * The base model a runner serves, and what serves its adapters: `lande` (the language-ID MLP,
 * adapters in the multi-adapter arena and BGMV kernel, on the event loop: a run costs less than
 * a hop between threads) or `use-lite` (the USE-lite transformer, PEFT adapters, see
 * executor/useLiteExecutor.ts; on a worker thread, executor/useLiteThread.ts, unless
 * `inferenceThread` is false). The runner registers and
 * looks up the base by its content hash, and serves the models registered on it.
 */
import type { Hex } from "viem";
import { landeBaseModel } from "../ml/base/baseModel";
import { USE_LITE } from "../ml/base/useLite/modules";
import { USE_LITE_HASH } from "../ml/base/useLite/useLiteBase";
import { type AdapterSlots, landeSlots } from "./adapterCache";
import type { RunnerConfig } from "./config";
import { AdapterArena } from "./executor/adapterArena";
import { MultiAdapterExecutor } from "./executor/multiAdapterExecutor";
import { UseLiteExecutor, useLiteBytesPerSlot } from "./executor/useLiteExecutor";
import { UseLiteThread } from "./executor/useLiteThread";
import { landeBackend, type ServingBackend } from "./inference";

export interface ServingBase {
  /** The base model's id and content hash (keccak256 of its ONNX bytes). */
  base: { id: string; hash: Hex };
  backend: ServingBackend<unknown>;
  slots: AdapterSlots;
  /** What serves the rows, for the log. */
  method: string;
  release(): Promise<void>;
}

/** Adapter slots within the cache's memory budget, at least one. */
function slotsWithin(budgetMB: number, bytesPerSlot: number): number {
  return Math.max(1, Math.floor((budgetMB * 2 ** 20) / bytesPerSlot));
}

async function landeServing(config: RunnerConfig): Promise<ServingBase> {
  const base = landeBaseModel();
  const { maxRank, maxClasses, budgetMB } = config.cache;
  const slots = slotsWithin(budgetMB, AdapterArena.bytesPerSlot(base, maxRank, maxClasses));
  const executor = await MultiAdapterExecutor.create(
    base,
    { slots, maxRank, maxClasses },
    { kernel: config.loraKernel },
  );
  return {
    base,
    backend: landeBackend(base, executor) as ServingBackend<unknown>,
    slots: landeSlots(base, executor.arena),
    method: executor.method,
    release: () => executor.release(),
  };
}

async function useLiteServing(config: RunnerConfig): Promise<ServingBase> {
  const { maxRank, maxClasses, budgetMB } = config.cache;
  const slots = slotsWithin(budgetMB, useLiteBytesPerSlot(maxRank, maxClasses));
  const options = { slots, maxRank, maxClasses };
  // On its own thread unless told: a batch runs for milliseconds, which the event loop then spends
  // on HTTP and payments (docs/benchmarks.md, "Paid calls over HTTP").
  const executor = config.inferenceThread
    ? await UseLiteThread.create(options)
    : await UseLiteExecutor.create(options);
  return {
    base: { id: USE_LITE.id, hash: USE_LITE_HASH },
    backend: executor as ServingBackend<unknown>,
    slots: executor,
    method: executor.method,
    release: () => executor.release(),
  };
}

export function openServingBase(config: RunnerConfig): Promise<ServingBase> {
  return config.base === "use-lite" ? useLiteServing(config) : landeServing(config);
}

/**
 * The base model a runner serves, and what serves its adapters: `lande` (the language-ID MLP,
 * adapters in the multi-adapter arena and BGMV kernel) or `use-lite` (the USE-lite transformer,
 * PEFT adapters through side inputs, see executor/useLiteExecutor.ts). The runner registers and
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
  const executor = await UseLiteExecutor.create({ slots, maxRank, maxClasses });
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

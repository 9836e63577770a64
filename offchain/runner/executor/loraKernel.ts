/**
 * How the executor applies each row's adapter, in one of two ways that give the same answers:
 *
 * - `native`: onnxruntime runs the base layer for the whole batch, then our BGMV kernel
 *   (offchain/native/lora, C) adds each row's LoRA delta and runs its task head, reading the
 *   adapter arena in place, as Punica's kernel does on a GPU. `npm ci` builds it wherever a C
 *   compiler is (tools/build-native.sh).
 * - `graph`: the gather graph (gatherGraph.ts), onnxruntime alone. Its Gathers copy every row's
 *   factors into per-batch tensors before the batched MatMuls read them again, it reads each
 *   slot's padding too, and onnxruntime runs 15 nodes where the base layer has 2: 1.2 to 1.8
 *   times the native way's time per batch of 32 different adapters (`npm run bench:serving:lande`).
 *
 * `auto` (the default) is the kernel where it was built, else the graph.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export const LORA_KERNELS = ["auto", "native", "graph"] as const;
export type LoraKernelChoice = (typeof LORA_KERNELS)[number];

export const LORA_KERNEL_PATH = fileURLToPath(
  new URL("../../native/lora/build/Release/openlora_lora.node", import.meta.url),
);

/** The arena's factors, laid out as adapterArena.ts writes them, and each slot's own size. */
export interface ArenaFactors {
  aT: Float32Array;
  scaledBT: Float32Array;
  headWeightT: Float32Array;
  headBias: Float32Array;
  /** Each slot's adapter rank and class count, up to the arena's: the kernel reads no padding. */
  slotRanks: Uint16Array;
  slotClasses: Uint16Array;
}

export interface LoraKernel {
  /** The instruction set the kernel was compiled for and chose at load ("avx2+fma", "portable"). */
  readonly isa: string;
  /**
   * For each row b: out[b] = softmax(Hᵀ[s]·relu(pre[b] + (scale·B)ᵀ[s]·Aᵀ[s]·x[b]) + c[s]) with
   * s = slots[b], over the slot's own rank and classes, written to `out` ([rows, classes]; a
   * slot's padded classes get 0). Throws a TypeError or RangeError for a wrong type or length,
   * or a slot outside the arena.
   */
  adaptRows(
    pre: Float32Array,
    features: Float32Array,
    slots: Int32Array,
    arena: ArenaFactors,
    dims: { d: number; k: number; rank: number; classes: number },
    out: Float32Array,
  ): Float32Array;
}

interface Addon {
  kernel: string;
  adaptRows(
    pre: Float32Array,
    features: Float32Array,
    slots: Int32Array,
    aT: Float32Array,
    scaledBT: Float32Array,
    headWeightT: Float32Array,
    headBias: Float32Array,
    slotRanks: Uint16Array,
    slotClasses: Uint16Array,
    d: number,
    k: number,
    rank: number,
    classes: number,
    out: Float32Array,
  ): Float32Array;
}

/** The kernel, or null where it was not built. */
export function loadLoraKernel(): LoraKernel | null {
  if (!existsSync(LORA_KERNEL_PATH)) return null;
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(LORA_KERNEL_PATH) as Addon;
  } catch (error) {
    throw new Error(
      `${LORA_KERNEL_PATH} was built but does not load (${(error as Error).message}): ` +
        "rebuild it with npm run build:native, or set OPENLORA_LORA_KERNEL=graph",
    );
  }
  return {
    isa: addon.kernel,
    adaptRows: (pre, features, slots, arena, { d, k, rank, classes }, out) =>
      addon.adaptRows(
        pre,
        features,
        slots,
        arena.aT,
        arena.scaledBT,
        arena.headWeightT,
        arena.headBias,
        arena.slotRanks,
        arena.slotClasses,
        d,
        k,
        rank,
        classes,
        out,
      ),
  };
}

/** The kernel a choice asks for: null means the gather graph. */
export function resolveLoraKernel(choice: LoraKernelChoice): LoraKernel | null {
  if (choice === "graph") return null;
  const kernel = loadLoraKernel();
  if (!kernel && choice === "native")
    throw new Error(
      `the native LoRA kernel was asked for, but ${LORA_KERNEL_PATH} is not built: run npm run build:native`,
    );
  return kernel;
}

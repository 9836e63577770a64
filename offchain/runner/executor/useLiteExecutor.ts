/**
 * Serves PEFT LoRA adapters on the transformer base, USE-lite: text → SentencePiece ids → the
 * USE-lite graph with LoRA side paths on all ten linear layers (zeros, which leave the base
 * exact, where an adapter does not target a module), then the adapter's head on the 512-d
 * embedding, or the embedding itself for an adapter without a head. Two layouts:
 *  - gather (the default): every adapter's factors sit stacked in an arena (useLiteArena.ts) and
 *    the graph gathers each row's own (useLiteGatherGraph.ts), so rows of any adapters share a run:
 *    one session.run per token bucket.
 *  - grouped: the adapter's factors are the graph's side inputs (`<module>.lora_a` [in, r],
 *    `<module>.lora_b` [r, out]), one adapter per run: one session.run per adapter and bucket.
 * `npm run bench:serving:use-lite` compares them.
 *
 * Rows are padded to their bucket (8, 16, 32, 64 or 128 tokens), never to the longest row of the
 * batch: a row's numbers then depend on its own text alone, whatever else shares its run, so an
 * answer computed again (a redelivered paid call) hashes the same; padding to the longest row was
 * measured to move the last bits. So does a run of one row, against the same row among others: a
 * run of one row gets an empty second row beside it. (The tests check both, in both layouts.)
 */
import * as ort from "onnxruntime-node";
import type { Hex } from "viem";
import { buildUseLiteOnnx } from "../../ml/base/useLite/graph";
import { USE_LITE, USE_LITE_MODULE_NAMES, USE_LITE_MODULES } from "../../ml/base/useLite/modules";
import { loadUseLiteSource } from "../../ml/base/useLite/source";
import { paddedBatch, runUseLite, USE_LITE_HASH, useLiteBase } from "../../ml/base/useLite/useLiteBase";
import { type ClassifierHead, decodePeftAdapter, type PeftAdapter } from "../../ml/peft/adapterModel";
import { classify, sideInputFeeds } from "../../ml/peft/loraMath";
import type { AdapterSlots } from "../adapterCache";
import { AdapterTooLargeError } from "./adapterArena";
import { UseLiteArena } from "./useLiteArena";
import { useLiteGatherGraph } from "./useLiteGatherGraph";

/** Token counts rows are padded to; a row takes the smallest that holds it. */
export const TOKEN_BUCKETS = [8, 16, 32, 64, USE_LITE.maxTokens] as const;

export interface TokenRow {
  /** Token ids of the row's text (at most 128). */
  input: readonly number[];
  slot: number;
}

export interface UseLiteExecutorOptions {
  slots: number;
  /** Adapters of a higher rank, or heads with more classes, are refused (as the lande arena does). */
  maxRank: number;
  maxClasses: number;
  /** onnxruntime's threads (default 1, which leaves a core to HTTP and payments). */
  threads?: number;
  /** How rows get their adapters (default "gather"; see the header). */
  layout?: UseLiteLayout;
}

/**
 * gather: one run per token bucket, each row's factors gathered from the stacked arena;
 * grouped: one run per adapter and token bucket, the adapter's factors fed as side inputs.
 */
export type UseLiteLayout = "gather" | "grouped";

interface LoadedAdapter {
  /** The adapter's own side inputs (grouped layout only; gather reads the arena). */
  feeds?: Record<string, ort.Tensor>;
  head?: ClassifierHead;
}

/** The smallest bucket that holds `tokens` tokens. */
export function tokenBucket(tokens: number): number {
  return TOKEN_BUCKETS.find((bucket) => bucket >= tokens) ?? USE_LITE.maxTokens;
}

/** Memory an adapter of `maxRank` on every module, with a head of `maxClasses`, takes at most. */
export function useLiteBytesPerSlot(maxRank: number, maxClasses: number): number {
  const factors = USE_LITE_MODULE_NAMES.reduce(
    (sum, name) => sum + (USE_LITE_MODULES[name].inputs + USE_LITE_MODULES[name].outputs) * maxRank,
    0,
  );
  return 4 * (factors + maxClasses * (USE_LITE.outputDim + 1));
}

/**
 * Verifies `bytes` against the registered hash and the base and decodes them, refusing anything
 * the PEFT loader does not fully understand (with its typed error) or that is larger than the
 * slots hold. The executor's decode, and the inference thread's on the event loop.
 */
export function decodeUseLiteAdapter(
  bytes: Uint8Array,
  adapterHash: Hex,
  limits: { maxRank: number; maxClasses: number },
): PeftAdapter {
  const { adapter } = decodePeftAdapter(bytes, { expectedHash: adapterHash, baseHash: USE_LITE_HASH });
  const classes = adapter.head?.labels.length ?? 0;
  if (adapter.config.r > limits.maxRank || classes > limits.maxClasses) {
    const { maxRank, maxClasses } = limits;
    throw new AdapterTooLargeError({ rank: adapter.config.r, classes, maxRank, maxClasses });
  }
  return adapter;
}

export class UseLiteExecutor implements AdapterSlots<PeftAdapter> {
  private readonly loaded: (LoadedAdapter | undefined)[];

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly options: UseLiteExecutorOptions,
    /** The gather layout's factors; null in the grouped layout. */
    private readonly arena: UseLiteArena | null,
  ) {
    this.loaded = new Array(options.slots).fill(undefined);
  }

  get layout(): UseLiteLayout {
    return this.arena ? "gather" : "grouped";
  }

  /** Builds the serving graph from the package (after checking the base's pinned hash). */
  static async create(options: UseLiteExecutorOptions): Promise<UseLiteExecutor> {
    useLiteBase(); // refuses weights that do not convert to USE_LITE_HASH
    const layout = options.layout ?? "gather";
    const gather = layout === "gather" ? useLiteGatherGraph() : null;
    const onnx =
      gather?.onnx ?? buildUseLiteOnnx(loadUseLiteSource(), { loraModules: USE_LITE_MODULE_NAMES });
    const session = await ort.InferenceSession.create(onnx, {
      executionProviders: ["cpu"],
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
    });
    const arena = gather ? new UseLiteArena(options.slots, options.maxRank, gather.biases) : null;
    return new UseLiteExecutor(session, options, arena);
  }

  /** What serves the rows, for logs and benchmarks. */
  get method(): string {
    return this.layout === "gather"
      ? "use-lite gather: one run per token bucket, each row's factors from the arena"
      : "use-lite side inputs: one run per adapter and token bucket";
  }

  get slots(): number {
    return this.options.slots;
  }

  /** Text → token ids (the tokenizer cuts long texts to the model's 128 tokens). */
  prepare(text: string): number[] {
    return useLiteBase().tokenizer.encode(text);
  }

  /**
   * Verifies `bytes` against the registered hash and the base and decodes them, refusing anything
   * the PEFT loader does not fully understand (with its typed error) or that is larger than the
   * runner serves.
   */
  decode(bytes: Uint8Array, adapterHash: Hex): PeftAdapter {
    return decodeUseLiteAdapter(bytes, adapterHash, this.options);
  }

  /** Holds a decoded adapter in `slot`; returns the head's labels, or [] (it serves embeddings). */
  write(slot: number, adapter: PeftAdapter): readonly string[] {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.options.slots) {
      throw new RangeError(`slot ${slot} is outside 0..${this.options.slots - 1}`);
    }
    let entry: LoadedAdapter = {};
    if (this.arena) this.arena.write(slot, adapter);
    else entry = { feeds: sideInputFeeds(adapter, USE_LITE_MODULE_NAMES) };
    this.loaded[slot] = adapter.head ? { ...entry, head: adapter.head } : entry;
    return adapter.head?.labels ?? [];
  }

  /** decode, then write: an adapter's bytes into `slot`. */
  load(slot: number, bytes: Uint8Array, adapterHash: Hex): readonly string[] {
    return this.write(slot, this.decode(bytes, adapterHash));
  }

  /** Each row's class probabilities (adapter with a head) or its 512-d embedding (without). */
  async run(rows: readonly TokenRow[]): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(rows.length);
    for (const [key, indices] of this.groups(rows)) {
      const tokens = Number(key.split(":")[1]);
      const group = indices.map((i) => rows[i] as TokenRow);
      // See the header: a run of one row comes out otherwise in the last bits.
      if (group.length === 1) group.push({ input: [], slot: (group[0] as TokenRow).slot });
      const embeddings = await runUseLite(
        this.session,
        paddedBatch(
          group.map((row) => row.input),
          tokens,
        ),
        this.feedsFor(group),
      );
      indices.forEach((row, j) => {
        out[row] = this.answer(
          embeddings.subarray(j * USE_LITE.outputDim, (j + 1) * USE_LITE.outputDim),
          group[j] as TokenRow,
        );
      });
    }
    return out;
  }

  private adapterIn(slot: number): LoadedAdapter {
    const adapter = this.loaded[slot];
    if (!adapter) throw new Error(`no adapter is loaded in slot ${slot}`);
    return adapter;
  }

  /** The LoRA feeds of a run: the arena and each row's rows of it, or the group's one adapter. */
  private feedsFor(group: readonly TokenRow[]): Record<string, ort.Tensor> {
    if (!this.arena) return this.adapterIn((group[0] as TokenRow).slot).feeds as Record<string, ort.Tensor>;
    for (const row of group) this.adapterIn(row.slot);
    return { ...this.arena.feeds, ...this.arena.indexFeeds(group.map((row) => row.slot)) };
  }

  /** The head's probabilities, or the embedding itself for an adapter without a head. */
  private answer(embedding: Float32Array, row: TokenRow): Float32Array {
    const { head } = this.adapterIn(row.slot);
    return head ? classify(embedding, head) : embedding;
  }

  /** Row indices by "slot:bucket" (grouped) or "*:bucket" (gather), in first-seen order. */
  private groups(rows: readonly TokenRow[]): Map<string, number[]> {
    const groups = new Map<string, number[]>();
    rows.forEach((row, i) => {
      if (row.input.length > USE_LITE.maxTokens) {
        throw new RangeError(`row ${i} has ${row.input.length} tokens, more than ${USE_LITE.maxTokens}`);
      }
      const adapter = this.arena ? "*" : row.slot;
      const key = `${adapter}:${tokenBucket(row.input.length)}`;
      const group = groups.get(key) ?? [];
      group.push(i);
      groups.set(key, group);
    });
    return groups;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

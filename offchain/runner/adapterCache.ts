/**
 * Which adapters sit in the serving arena. Adapters are loaded just in time from the local
 * store into a free arena slot, or into the least recently used one that is neither pinned nor
 * used by a batch in flight. Before first use, the bytes are checked against the adapter hash
 * registered on-chain (and the base model and shapes); a model whose bytes fail is refused
 * with that error until its registration changes, and every other model keeps serving. What a
 * slot holds, and how bytes are checked, is the serving backend's (AdapterSlots): lande's arena,
 * or USE-lite's PEFT adapters.
 */
import type { Hex } from "viem";
import type { LoraAdapter } from "../ml/adapter/adapter";
import { decodeAdapter } from "../ml/adapter/adapterFile";
import type { BaseModel } from "../ml/base/baseModel";
import type { AdapterStore } from "./adapterStore";
import type { AdapterArena } from "./executor/adapterArena";

/** A fixed number of slots that verified adapters are loaded into. */
export interface AdapterSlots<Decoded = unknown> {
  readonly slots: number;
  /**
   * Verifies `bytes` against the registered `adapterHash` and the base and decodes them; throws
   * what it refuses. Called before a slot is taken, so a refused adapter evicts nothing.
   */
  decode(bytes: Uint8Array, adapterHash: Hex): Decoded;
  /** Writes a decoded adapter into `slot`; returns its labels ([] for an adapter serving embeddings). */
  write(slot: number, adapter: Decoded): readonly string[];
}

/** lande's slots: the adapter arena; an adapter without a head answers the base's labels. */
export function landeSlots(base: BaseModel, arena: AdapterArena): AdapterSlots<LoraAdapter> {
  return {
    slots: arena.shape.slots,
    decode: (bytes, adapterHash) => decodeAdapter(bytes, base, adapterHash),
    write(slot, adapter) {
      arena.write(slot, adapter);
      return adapter.head?.labels ?? base.labels;
    },
  };
}

export class ModelRefusedError extends Error {
  constructor(
    readonly modelId: bigint,
    readonly reason: Error,
  ) {
    super(`model ${modelId} is refused: ${reason.message}`, { cause: reason });
    this.name = "ModelRefusedError";
  }
}

export class CacheFullError extends Error {
  constructor(readonly details: { slots: number }) {
    super(`all ${details.slots} adapter slots are pinned or in use; retry later`);
    this.name = "CacheFullError";
  }
}

interface Entry {
  modelId: bigint;
  adapterHash: Hex;
  slot: number;
  pinned: boolean;
  inUse: number;
  labels: readonly string[];
}

export interface CachedAdapter {
  slot: number;
  labels: readonly string[];
  /** Must be called when the batch using the slot is done. */
  release(): void;
}

export class AdapterCache {
  /** Entries by model id; Map order is recency order (oldest first). */
  private readonly entries = new Map<bigint, Entry>();
  private readonly freeSlots: number[];
  private readonly refused = new Map<bigint, { adapterHash: Hex; error: Error }>();
  readonly stats = { hits: 0, loads: 0, evictions: 0, refusals: 0 };

  constructor(
    private readonly slots: AdapterSlots,
    private readonly store: AdapterStore,
  ) {
    this.freeSlots = Array.from({ length: slots.slots }, (_, i) => slots.slots - 1 - i);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The slot of a model's adapter, loading it if needed. `adapterHash` is the hash registered
   * on-chain for the model now. Throws ModelRefusedError if its bytes fail verification.
   */
  acquire(modelId: bigint, adapterHash: Hex, options: { pin?: boolean } = {}): CachedAdapter {
    const hash = adapterHash.toLowerCase() as Hex;
    const refusal = this.refused.get(modelId);
    if (refusal && refusal.adapterHash === hash) throw new ModelRefusedError(modelId, refusal.error);
    let entry = this.entries.get(modelId);
    if (entry && entry.adapterHash === hash) {
      this.stats.hits++;
      this.entries.delete(modelId); // re-insert as most recent
      this.entries.set(modelId, entry);
    } else {
      if (entry) this.evict(entry); // a new registration replaced the adapter
      entry = this.load(modelId, hash);
    }
    if (options.pin) entry.pinned = true;
    entry.inUse++;
    const held = entry;
    let released = false;
    return {
      slot: held.slot,
      labels: held.labels,
      release: () => {
        if (released) return;
        released = true;
        held.inUse--;
      },
    };
  }

  /** Keeps a model's adapter resident regardless of recency. */
  pin(modelId: bigint, adapterHash: Hex): void {
    this.acquire(modelId, adapterHash, { pin: true }).release();
  }

  unpin(modelId: bigint): void {
    const entry = this.entries.get(modelId);
    if (entry) entry.pinned = false;
  }

  /** The labels of a model's adapter if it is in the cache now ([] for embeddings); never loads it. */
  residentLabels(modelId: bigint, adapterHash: Hex): readonly string[] | undefined {
    const entry = this.entries.get(modelId);
    return entry && entry.adapterHash === adapterHash.toLowerCase() ? entry.labels : undefined;
  }

  /** Why a model is refused, if it is. */
  refusal(modelId: bigint): Error | undefined {
    return this.refused.get(modelId)?.error;
  }

  private load(modelId: bigint, adapterHash: Hex): Entry {
    let adapter: unknown;
    try {
      adapter = this.slots.decode(this.store.get(adapterHash), adapterHash);
    } catch (error) {
      throw this.refuse(modelId, adapterHash, error as Error);
    }
    const slot = this.takeSlot();
    let labels: readonly string[];
    try {
      labels = this.slots.write(slot, adapter);
    } catch (error) {
      this.freeSlots.push(slot);
      throw this.refuse(modelId, adapterHash, error as Error);
    }
    this.refused.delete(modelId);
    this.stats.loads++;
    const entry: Entry = { modelId, adapterHash, slot, pinned: false, inUse: 0, labels };
    this.entries.set(modelId, entry);
    return entry;
  }

  private refuse(modelId: bigint, adapterHash: Hex, error: Error): ModelRefusedError {
    this.stats.refusals++;
    this.refused.set(modelId, { adapterHash, error });
    return new ModelRefusedError(modelId, error);
  }

  private takeSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    for (const entry of this.entries.values()) {
      if (entry.pinned || entry.inUse > 0) continue;
      this.evict(entry);
      this.stats.evictions++;
      return this.freeSlots.pop() as number;
    }
    throw new CacheFullError({ slots: this.slots.slots });
  }

  private evict(entry: Entry): void {
    if (entry.inUse > 0) throw new Error(`adapter of model ${entry.modelId} is in use and cannot be evicted`);
    this.entries.delete(entry.modelId);
    this.freeSlots.push(entry.slot);
  }
}

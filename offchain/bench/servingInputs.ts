// Inputs of `npm run bench:serving`: realistic texts (crypto-sentiment posts and SpamAssassin
// e-mails, tokenized once) and random PEFT adapters of rank 8 on every USE-lite module.
import { readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import type { Hex } from "viem";
import { USE_LITE_MODULE_NAMES } from "../ml/base/useLite/modules";
import { useLiteBase } from "../ml/base/useLite/useLiteBase";
import { contentHash } from "../ml/hash";
import { encodePeftAdapter } from "../ml/peft/adapterModel";
import { createLoraConfig, type LoraOptions } from "../ml/peft/config";
import { PROVENANCE, randomAdapter } from "../ml/peft/testing/randomAdapter";
import { DEFAULT_TRAIN_TARGETS } from "../ml/useLiteTraining/targets";
import type { AdapterStore } from "../runner/adapterStore";
import { type PeftAdapterBytes, peftAdapterBytes } from "../runner/testing/peftAdapters";

const POSTS = "offchain/ml/data/crypto-sentiment/batch-01.jsonl";
const EMAILS = "offchain/ml/data/spam-assassin/emails.jsonl.gz";
export const LABELS = ["negative", "neutral", "positive"];
/** Rank 8 on all ten linear modules (the PEFT default's eight, the residual projection and the pooler). */
export const ALL_TARGETS: LoraOptions = { r: 8, alpha: 16, targetModules: USE_LITE_MODULE_NAMES };
/** Rank 8 on the trainer's default targets, as the committed adapters are. */
export const TRAINED_TARGETS: LoraOptions = { r: 8, alpha: 16, targetModules: [...DEFAULT_TRAIN_TARGETS] };

const textsOf = (jsonl: string) =>
  jsonl
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { text: string }).text);

/** `count` texts, crypto posts and e-mails alternating. */
export function realisticTexts(count: number): string[] {
  const posts = textsOf(readFileSync(POSTS, "utf8"));
  const emails = textsOf(gunzipSync(readFileSync(EMAILS)).toString("utf8"));
  return Array.from({ length: count }, (_, i) => {
    const pool = i % 2 === 0 ? posts : emails;
    return pool[Math.floor(i / 2) % pool.length] as string;
  });
}

/** The same texts as token ids (the tokenizer cuts e-mails at 128 tokens). */
export function realisticRows(count: number): number[][] {
  const tokenizer = useLiteBase().tokenizer;
  return realisticTexts(count).map((text) => tokenizer.encode(text));
}

/** Rows of exactly `tokens` tokens, cut from e-mails (each at least that long). */
export function rowsOfLength(count: number, tokens: number): number[][] {
  const long = realisticRows(count * 8).filter((row) => row.length >= tokens);
  if (long.length < count) throw new Error(`only ${long.length} texts reach ${tokens} tokens`);
  return long.slice(0, count).map((row) => row.slice(0, tokens));
}

/** `count` random adapters (rank 8 on all modules unless `lora` says, a 3-label head), seeds from `seed`. */
export function benchAdapters(
  count: number,
  seed = 100,
  lora: LoraOptions = ALL_TARGETS,
): PeftAdapterBytes[] {
  return Array.from({ length: count }, (_, i) => peftAdapterBytes({ seed: seed + i, labels: LABELS, lora }));
}

/** `count` distinct adapter files in a store: one random adapter, a weight changed per file. */
export function fillAdapterStore(store: AdapterStore, count: number): Hex[] {
  const adapter = randomAdapter(createLoraConfig({ ...ALL_TARGETS, head: true }), 7, 0.02, LABELS);
  const first = [...adapter.factors.values()][0]?.a as Float32Array;
  const original = first[0] as number;
  return Array.from({ length: count }, (_, i) => {
    first[0] = original + i * 1e-6;
    const bytes = encodePeftAdapter(adapter, PROVENANCE);
    const hash = contentHash(bytes);
    writeFileSync(store.pathOf(hash), bytes); // no fsync: a benchmark's scratch store
    return hash;
  });
}

export const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;

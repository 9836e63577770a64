/**
 * The runner's USE-lite path against the merged-weights reference: one micro-batch mixing rows of
 * four adapters (different target modules, ranks, rsLoRA, F16, with and without a head) equals,
 * row by row, each adapter's merged-weights graph to 1e-4; a row's answer is bit for bit the same
 * alone and within any batch; adapters it does not fully understand are refused, slot untouched.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { USE_LITE, USE_LITE_MODULE_NAMES } from "../../ml/base/useLite/modules";
import { loadUseLiteSource } from "../../ml/base/useLite/source";
import { PARITY_SENTENCES } from "../../ml/base/useLite/testing/sentences";
import { denseBatch, paddedBatch, runUseLite, useLiteBase } from "../../ml/base/useLite/useLiteBase";
import { AdapterHashMismatchError, BaseModelMismatchError } from "../../ml/errors";
import { contentHash } from "../../ml/hash";
import { createSession } from "../../ml/onnx/session";
import { encodePeftAdapter, type PeftAdapter } from "../../ml/peft/adapterModel";
import { PeftShapeError, UnsupportedPeftFeatureError } from "../../ml/peft/errors";
import { buildMergedUseLiteOnnx, classify } from "../../ml/peft/loraMath";
import { decodeSafetensors, encodeSafetensors } from "../../ml/peft/safetensors";
import { PROVENANCE } from "../../ml/peft/testing/randomAdapter";
import { AdapterCache, ModelRefusedError } from "../adapterCache";
import { AdapterStore } from "../adapterStore";
import { MIXED_PEFT_FIXTURES, type PeftFixture, peftAdapterBytes } from "../testing/peftAdapters";
import { AdapterTooLargeError } from "./adapterArena";
import { type TokenRow, tokenBucket, UseLiteExecutor, type UseLiteLayout } from "./useLiteExecutor";

const LAYOUTS: UseLiteLayout[] = ["gather", "grouped"];

const TOLERANCE = 1e-4;
const FIXTURES = MIXED_PEFT_FIXTURES;
const NAMES = Object.keys(FIXTURES);
const adapters = NAMES.map((name) => peftAdapterBytes(FIXTURES[name] as PeftFixture));
const base = useLiteBase();
/** Every parity sentence (empty, emoji, other scripts, over 128 tokens), each with one adapter in turn. */
const ROWS = PARITY_SENTENCES.map((text, i) => ({ text, slot: i % adapters.length }));
const ids = ROWS.map(({ text }) => base.tokenizer.encode(text));
const batch: TokenRow[] = ROWS.map(({ slot }, i) => ({ input: ids[i] as number[], slot }));

const executors = new Map<UseLiteLayout, UseLiteExecutor>();
/** Per adapter, the merged reference's answers for its rows (computed once for both layouts). */
const references = new Map<number, Promise<{ merged: Float32Array; plain: Float32Array }>>();

beforeAll(async () => {
  for (const layout of LAYOUTS) {
    const executor = await UseLiteExecutor.create({ slots: 6, maxRank: 16, maxClasses: 8, layout });
    adapters.forEach(({ bytes, hash }, slot) => {
      executor.load(slot, bytes, hash);
    });
    executors.set(layout, executor);
  }
});

afterAll(async () => {
  await Promise.all([...executors.values()].map((executor) => executor.release()));
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let j = 0; j < a.length; j++) max = Math.max(max, Math.abs((a[j] as number) - (b[j] as number)));
  return max;
}

/** What a row answers by the merged-weights reference (and by the base without the adapter). */
async function computeReference(adapter: PeftAdapter, rows: number[][]) {
  const source = loadUseLiteSource();
  const merged = await createSession(buildMergedUseLiteOnnx(source, adapter), 1);
  const plain = await createSession(base.onnx, 1);
  const dense = denseBatch(rows);
  const [withAdapter, without] = [await runUseLite(merged, dense), await runUseLite(plain, dense)];
  await Promise.all([merged.release(), plain.release()]);
  const answer = (embeddings: Float32Array) =>
    adapter.head ? classify(embeddings, adapter.head) : embeddings;
  return { merged: answer(withAdapter), plain: answer(without) };
}

function reference(slot: number, rows: number[]) {
  const cached =
    references.get(slot) ??
    computeReference(
      (adapters[slot] as (typeof adapters)[number]).decoded.adapter,
      rows.map((i) => ids[i] as number[]),
    );
  references.set(slot, cached);
  return cached;
}

describe.each(LAYOUTS)("UseLiteExecutor, %s layout", (layout) => {
  const executor = {
    run: (rows: readonly TokenRow[]) => (executors.get(layout) as UseLiteExecutor).run(rows),
    load: (slot: number, bytes: Uint8Array, hash: `0x${string}`) =>
      (executors.get(layout) as UseLiteExecutor).load(slot, bytes, hash),
  };

  it(`serves a batch mixing four adapters equal per row to the merged-weights reference (${TOLERANCE})`, async () => {
    const served = await executor.run(batch);
    expect(served).toHaveLength(ROWS.length);
    for (const [slot, name] of NAMES.entries()) {
      const { adapter } = (adapters[slot] as (typeof adapters)[number]).decoded;
      const rows = ROWS.flatMap((row, i) => (row.slot === slot ? [i] : []));
      const { merged, plain } = await reference(slot, rows);
      const width = adapter.head ? adapter.head.labels.length : USE_LITE.outputDim;
      const diffs: number[] = [];
      const moved: number[] = [];
      rows.forEach((row, j) => {
        const mine = served[row] as Float32Array;
        expect(mine.length, `${name} row ${row}`).toBe(width);
        diffs.push(maxDiff(mine, merged.subarray(j * width, (j + 1) * width)));
        if ((ids[row] as number[]).length > 0)
          moved.push(maxDiff(mine, plain.subarray(j * width, (j + 1) * width)));
      });
      console.log(
        `${layout}, ${name}: ${rows.length} rows, max |served − merged| ${Math.max(...diffs).toExponential(2)}, adapter moved rows by ≥ ${Math.min(...moved).toExponential(2)}`,
      );
      for (const [j, diff] of diffs.entries()) expect(diff, `${name} row ${rows[j]}`).toBeLessThan(TOLERANCE);
      // Each adapter must move every row far beyond the tolerance, or the comparison proves nothing.
      expect(Math.min(...moved)).toBeGreaterThan(10 * TOLERANCE);
    }
  });

  it("answers a row bit for bit the same alone and within a mixed batch", async () => {
    const together = await executor.run(batch);
    const buckets = new Set(ids.map((row) => tokenBucket(row.length)));
    expect(buckets.size).toBeGreaterThan(2); // rows of several buckets, so padding is exercised
    for (const [i, row] of batch.entries()) {
      const [alone] = await executor.run([row]);
      expect(Array.from(alone as Float32Array), `row ${i}`).toEqual(Array.from(together[i] as Float32Array));
    }
  });

  it("answers the base's embedding bit for bit for an adapter whose B is zero, beside other adapters' rows", async () => {
    // As PEFT initialises an adapter: B = 0, so every module's output must stay x·W + b exactly.
    const untrained = peftAdapterBytes({
      seed: 35,
      bScale: 0,
      lora: { r: 8, targetModules: USE_LITE_MODULE_NAMES },
    });
    executor.load(5, untrained.bytes, untrained.hash);
    const plain = await createSession(base.onnx, 1);
    try {
      const rows = batch.map((row, i) => (i % 2 === 0 ? { ...row, slot: 5 } : row));
      const served = await executor.run(rows);
      for (const [i, row] of rows.entries()) {
        if (row.slot !== 5) continue;
        const bucket = tokenBucket(row.input.length);
        const expected = (await runUseLite(plain, paddedBatch([row.input, []], bucket))).subarray(
          0,
          USE_LITE.outputDim,
        );
        expect(Array.from(served[i] as Float32Array), `row ${i}`).toEqual(Array.from(expected));
      }
    } finally {
      await plain.release();
    }
  });

  it("refuses tampered bytes, another base's adapter and one above its rank, keeping the slot's adapter", async () => {
    const [first, second] = adapters as [(typeof adapters)[0], (typeof adapters)[1]];
    const before = await executor.run([batch[0] as TokenRow]);
    const tampered = first.bytes.slice();
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] as number) ^ 0x01;
    expect(() => executor.load(0, tampered, first.hash)).toThrow(AdapterHashMismatchError);
    // Bytes that do hash to what was registered, but name another base.
    const otherBase = encodePeftAdapter(second.decoded.adapter, PROVENANCE, {
      baseHash: `0x${"ab".repeat(32)}`,
    });
    expect(() => executor.load(0, otherBase, contentHash(otherBase))).toThrow(BaseModelMismatchError);
    const big = peftAdapterBytes({ seed: 35, lora: { r: 32, alpha: 32 } });
    expect(() => executor.load(0, big.bytes, big.hash)).toThrow(AdapterTooLargeError);
    expect(await executor.run([batch[0] as TokenRow])).toEqual(before);
  });

  it("refuses a registered file whose tensor has the wrong shape or a DoRA config, naming what it refuses", async () => {
    const { bytes } = adapters[1] as (typeof adapters)[number];
    const { tensors, metadata } = decodeSafetensors(bytes);
    const key = "base_model.model.encoder.layer.0.ffn.in.lora_A.weight";
    const tensor = tensors.get(key);
    if (!tensor) throw new Error(`fixture has no ${key}`);
    // One input column short, as a broken exporter might write it; its hash is what was registered.
    const [r, inputs] = tensor.shape as [number, number];
    const short = { shape: [r, inputs - 1], data: tensor.data.subarray(0, r * (inputs - 1)) };
    const reshaped = encodeSafetensors({ ...Object.fromEntries(tensors), [key]: short }, metadata);
    expect(() => executor.load(4, reshaped, contentHash(reshaped))).toThrow(
      new RegExp(`tensor ${key.replaceAll(".", "\\.")} has shape \\[${r},${inputs - 1}\\]`),
    );
    expect(() => executor.load(4, reshaped, contentHash(reshaped))).toThrow(PeftShapeError);
    const config = JSON.parse(metadata["openlora.adapter_config"] as string);
    const dora = encodeSafetensors(Object.fromEntries(tensors), {
      ...metadata,
      "openlora.adapter_config": JSON.stringify({ ...config, use_dora: true }),
    });
    expect(() => executor.load(4, dora, contentHash(dora))).toThrow(UnsupportedPeftFeatureError);
  });

  it("through the adapter cache: a refused model answers its reason, the others keep serving", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "openlora-uselite-cache-"));
    try {
      const store = new AdapterStore(dir);
      const cache = new AdapterCache(executors.get(layout) as UseLiteExecutor, store);
      const [good, bad] = [adapters[0], adapters[1]] as [(typeof adapters)[0], (typeof adapters)[1]];
      store.put(good.bytes);
      const badHash = store.put(bad.bytes);
      const stored = store.pathOf(badHash);
      const flipped = bad.bytes.slice();
      flipped[100] = (flipped[100] as number) ^ 0x40;
      writeFileSync(stored, flipped);
      expect(() => cache.acquire(2n, badHash)).toThrow(ModelRefusedError);
      expect(cache.refusal(2n)).toBeInstanceOf(AdapterHashMismatchError);
      const held = cache.acquire(1n, good.hash);
      expect(held.labels).toEqual(["bearish", "neutral", "bullish"]);
      const [probabilities] = await executor.run([{ input: ids[2] as number[], slot: held.slot }]);
      held.release();
      expect(probabilities).toHaveLength(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

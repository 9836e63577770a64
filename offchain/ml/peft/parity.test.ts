/**
 * The side-input graph (the base with LoRA inputs, as a runner serves adapters) equals the
 * merged-weights reference graph (W' = W + scaling·(B·A)ᵀ built into the ONNX) on real
 * sentences, for adapters that went through the file format.
 */
import { describe, expect, it } from "vitest";
import { buildUseLiteOnnx } from "../base/useLite/graph";
import { USE_LITE, USE_LITE_MODULE_NAMES } from "../base/useLite/modules";
import { loadUseLiteSource } from "../base/useLite/source";
import { PARITY_SENTENCES } from "../base/useLite/testing/sentences";
import { denseBatch, runUseLite, useLiteBase } from "../base/useLite/useLiteBase";
import { createSession } from "../onnx/session";
import { decodePeftAdapter, encodePeftAdapter, type PeftAdapter } from "./adapterModel";
import { createLoraConfig, type LoraOptions } from "./config";
import { buildMergedUseLiteOnnx, classify, sideInputFeeds } from "./loraMath";
import { PROVENANCE, randomAdapter } from "./testing/randomAdapter";

const TOLERANCE = 1e-4;
const source = loadUseLiteSource();
const base = useLiteBase();
/** Every other parity sentence plus the long ones (over 128 tokens) at the end. */
const SENTENCES = PARITY_SENTENCES.filter((_, i) => i % 2 === 0 || i >= PARITY_SENTENCES.length - 6);
const ids = SENTENCES.map((text) => base.tokenizer.encode(text));
const batch = denseBatch(ids);
/** A row without tokens embeds the pooler's bias alone, which LoRA cannot move: left out of "moved". */
const withTokens = (values: number[]) => values.filter((_, row) => (ids[row]?.length ?? 0) > 0);
const sidePromise = createSession(buildUseLiteOnnx(source, { loraModules: USE_LITE_MODULE_NAMES }), 2);
const plainPromise = createSession(base.onnx, 2).then((session) => runUseLite(session, batch));

function throughFile(adapter: PeftAdapter): PeftAdapter {
  return decodePeftAdapter(encodePeftAdapter(adapter, PROVENANCE)).adapter;
}

/** Per row: max |a − b| over the row's values. */
function rowDiffs(a: Float32Array, b: Float32Array, width: number): number[] {
  return Array.from({ length: a.length / width }, (_, row) => {
    let max = 0;
    for (let j = row * width; j < (row + 1) * width; j++)
      max = Math.max(max, Math.abs((a[j] as number) - (b[j] as number)));
    return max;
  });
}

async function both(adapter: PeftAdapter): Promise<{ side: Float32Array; merged: Float32Array }> {
  const session = await sidePromise;
  const side = await runUseLite(session, batch, sideInputFeeds(adapter, USE_LITE_MODULE_NAMES));
  const mergedSession = await createSession(buildMergedUseLiteOnnx(source, adapter), 2);
  return { side, merged: await runUseLite(mergedSession, batch) };
}

const EMBEDDING_CASES: [string, LoraOptions, number][] = [
  ["default targets, r 8, alpha 16", {}, 21],
  [
    "all ten modules, r 4, alpha 8, rsLoRA",
    { r: 4, alpha: 8, useRslora: true, targetModules: USE_LITE_MODULE_NAMES },
    22,
  ],
  [
    "layer 0 attention + pooler, r 16, alpha 32",
    {
      r: 16,
      alpha: 32,
      targetModules: ["encoder.layer.0.attention.qkv", "encoder.layer.0.attention.output", "pooler.dense"],
    },
    23,
  ],
];

describe("side-input graph vs merged-weights graph", () => {
  for (const [name, options, seed] of EMBEDDING_CASES) {
    it(`embedding adapter (${name}): equal per row to ${TOLERANCE}`, async () => {
      const adapter = throughFile(randomAdapter(createLoraConfig(options), seed));
      const { side, merged } = await both(adapter);
      const diffs = rowDiffs(side, merged, USE_LITE.outputDim);
      const moved = withTokens(rowDiffs(side, await plainPromise, USE_LITE.outputDim));
      console.log(
        `${name}: ${SENTENCES.length} rows, max |side − merged| per row ${Math.max(...diffs).toExponential(2)}; ` +
          `adapter moved embeddings by ${Math.min(...moved).toExponential(2)}–${Math.max(...moved).toExponential(2)} (max per row)`,
      );
      for (const [row, diff] of diffs.entries()) expect(diff, `row ${row}`).toBeLessThan(TOLERANCE);
      // The adapter must change every row far beyond the tolerance, or the comparison proves nothing.
      expect(Math.min(...moved)).toBeGreaterThan(10 * TOLERANCE);
    });
  }

  it(`classifier (head on the embedding): probabilities equal per row to ${TOLERANCE}`, async () => {
    const labels = ["bearish", "neutral", "bullish"];
    const config = createLoraConfig({
      head: true,
      targetModules: ["encoder.layer.1.ffn.in", "encoder.layer.1.ffn.out", "pooler.dense"],
    });
    const adapter = throughFile(randomAdapter(config, 24, 0.02, labels));
    const head = adapter.head;
    if (!head) throw new Error("the classifier lost its head");
    const { side, merged } = await both(adapter);
    const [pSide, pMerged, pBase] = [
      classify(side, head),
      classify(merged, head),
      classify(await plainPromise, head),
    ];
    const diffs = rowDiffs(pSide, pMerged, labels.length);
    const moved = withTokens(rowDiffs(pSide, pBase, labels.length));
    console.log(
      `classifier: max |side − merged| probability per row ${Math.max(...diffs).toExponential(2)}; ` +
        `embedding ${Math.max(...rowDiffs(side, merged, USE_LITE.outputDim)).toExponential(2)}; ` +
        `adapter moved probabilities by ${Math.min(...moved).toExponential(2)}–${Math.max(...moved).toExponential(2)}`,
    );
    for (const [row, diff] of diffs.entries()) expect(diff, `row ${row}`).toBeLessThan(TOLERANCE);
    expect(Math.min(...moved)).toBeGreaterThan(10 * TOLERANCE);
    for (let row = 0; row < SENTENCES.length; row++) {
      const sum = pSide.subarray(row * 3, row * 3 + 3).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 6);
    }
  });
});

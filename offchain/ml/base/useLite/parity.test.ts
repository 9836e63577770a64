// Parity of our USE-lite (tokenizer + converted ONNX on onnxruntime) with the reference:
// `@energetic-ai/embeddings` (tokenizer and embed on the package's TF.js graph, wasm backend)
// on every sentence, and TF.js on the cpu backend on a subset (it is slow: ~0.2 s + 20 ms a
// token here). Embeddings are compared on one padded batch, as serving runs them.
import { beforeAll, describe, expect, it } from "vitest";
import { createSession } from "../../onnx/session";
import { USE_LITE } from "./modules";
import { runReference } from "./testing/reference";
import { PARITY_SENTENCES } from "./testing/sentences";
import { loadTfjsReference, tfjsEmbed } from "./testing/tfjsReference";
import { buildUseLiteBase, denseBatch, runUseLite, type UseLiteBase } from "./useLiteBase";

const D = USE_LITE.outputDim;
let base: UseLiteBase;
let ours: number[][];
let reference: Awaited<ReturnType<typeof runReference>>;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

beforeAll(async () => {
  base = buildUseLiteBase();
  ours = PARITY_SENTENCES.map((text) => base.tokenizer.encode(text));
  reference = await runReference(PARITY_SENTENCES, true);
});

describe("USE-lite parity with the reference implementation", () => {
  it("uses at least 50 sentences, some over 128 tokens, some empty", () => {
    expect(PARITY_SENTENCES.length).toBeGreaterThanOrEqual(50);
    expect(reference.ids.filter((ids) => ids.length > USE_LITE.maxTokens).length).toBeGreaterThanOrEqual(3);
    expect(PARITY_SENTENCES).toContain("");
  });

  it("tokenizes every sentence to the reference's first 128 ids", () => {
    PARITY_SENTENCES.forEach((text, i) => {
      expect(ours[i], JSON.stringify(text.slice(0, 60))).toEqual(
        reference.ids[i]?.slice(0, USE_LITE.maxTokens),
      );
    });
  });

  it("embeds every sentence as the package's own embed does, to 1e-5 (one padded batch)", async () => {
    const session = await createSession(base.onnx, 2);
    const embeddings = await runUseLite(session, denseBatch(ours));
    const diffs = PARITY_SENTENCES.map((_, i) =>
      maxAbsDiff(embeddings.subarray(i * D, (i + 1) * D), reference.embeddings?.[i] ?? []),
    );
    const worst = Math.max(...diffs);
    console.log(`max abs diff vs @energetic-ai/embeddings (wasm): ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
  });

  it("embeds a subset as TF.js on the cpu backend does, to 1e-5", async () => {
    const picks = [
      "hello world",
      "BTC to the moon 🚀🚀🚀",
      ":",
      "这句话是用什么语言写的？",
      "tabs\tand\nnewlines\r\nmixed in",
    ];
    const longest = ours.findIndex((ids) => ids.length === USE_LITE.maxTokens);
    const subset = [
      ...picks.map((text) => ours[PARITY_SENTENCES.indexOf(text)] as number[]),
      ours[longest] as number[],
    ];
    expect(subset.some((ids) => ids.length === USE_LITE.maxTokens)).toBe(true);
    const model = await loadTfjsReference();
    const session = await createSession(base.onnx, 2);
    const embeddings = await runUseLite(session, denseBatch(subset));
    let worst = 0;
    for (const [r, ids] of subset.entries()) {
      const expected = await tfjsEmbed(model, [ids]);
      worst = Math.max(worst, maxAbsDiff(embeddings.subarray(r * D, (r + 1) * D), expected));
    }
    console.log(`max abs diff vs TF.js cpu: ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
  });
});

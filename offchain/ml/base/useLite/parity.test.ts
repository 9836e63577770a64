// Parity of our USE-lite (tokenizer + converted ONNX on onnxruntime) with the reference:
// `@energetic-ai/embeddings` (tokenizer and embed on the package's TF.js graph, wasm backend)
// on every sentence, and TF.js on the cpu backend on a subset (it is slow: ~0.2 s + 20 ms a
// token here). Embeddings are compared on one padded batch, as serving runs them.
import { beforeAll, describe, expect, it } from "vitest";
import { createSession } from "../../onnx/session";
import { Rng } from "../../random";
import { USE_LITE } from "./modules";
import type { VocabEntry } from "./source";
import { runReference } from "./testing/reference";
import { PARITY_SENTENCES } from "./testing/sentences";
import { loadTfjsReference, tfjsEmbed } from "./testing/tfjsReference";
import { UseLiteTokenizer } from "./tokenizer";
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

/**
 * A vocabulary built to exercise the rules real text rarely reaches: integer scores (ties
 * everywhere), null and 0 scores, repeated pieces, "▁" inside pieces, short unknown runs.
 */
function syntheticVocabulary(rng: Rng): VocabEntry[] {
  const control: VocabEntry[] = ["\uFFFD", "<s>", "</s>", "x1", "x2", "x3"].map((p) => [p, 0]);
  const alphabet = ["a", "b", "c", "\u2581"];
  let strings = [""];
  const pieces: string[] = [];
  for (let length = 1; length <= 5; length++) {
    strings = strings.flatMap((s) => alphabet.map((c) => s + c));
    pieces.push(...strings);
  }
  const chosen = rng.shuffle(pieces).slice(0, 1_000);
  const entries: VocabEntry[] = [...chosen, ...chosen.slice(0, 50)].map((piece) => {
    const u = rng.next();
    return [piece, u < 0.1 ? null : u < 0.15 ? 0 : -1 - rng.int(4)];
  });
  while (control.length + entries.length < USE_LITE.vocabSize) entries.push([`q${entries.length}`, -9]);
  return [...control, ...entries];
}

describe("USE-lite tokenizer against the reference on a synthetic vocabulary", () => {
  it("gives the reference's ids on 400 random texts (ties, 0 and null scores, repeats, unknowns)", async () => {
    const rng = new Rng(22);
    const vocabulary = syntheticVocabulary(rng);
    const chars = ["a", "b", "c", " ", " ", "d", "\t", "😀", "ａ"];
    const texts = Array.from({ length: 400 }, () =>
      Array.from({ length: rng.int(30) }, () => chars[rng.int(chars.length)]).join(""),
    );
    const expected = await runReference(texts, false, vocabulary);
    const tokenizer = new UseLiteTokenizer(vocabulary);
    texts.forEach((text, i) => {
      expect(tokenizer.encode(text), JSON.stringify(text)).toEqual(
        expected.ids[i]?.slice(0, USE_LITE.maxTokens),
      );
    });
  });
});

/**
 * Text → feature vector, exactly as lande computes it (lande/standalone/utils.js, `infer`):
 * the text is normalized (hyphens → spaces, everything but letters, marks and whitespace
 * removed, whitespace runs collapsed, lower-cased, trimmed, padded with one space each side),
 * then for n = 1..4 the frequency of each n-gram of the vocabulary among all n-grams of the
 * normalized text. N-grams are taken over UTF-16 code units, as `String.prototype.slice` does.
 */
import type { LandeVocabulary } from "./landeSource";

export function normalizeText(text: string): string {
  const collapsed = text
    .replace(/-+/g, " ")
    .replace(/[^\p{L}\p{M}\s]/gu, "")
    .replace(/\s{2,}/g, " ")
    .toLowerCase()
    .trim();
  return ` ${collapsed} `;
}

/** Counts of the n-grams of `text` and their total (number of n-gram positions). */
export function countNgrams(text: string, n: number): { counts: Map<string, number>; total: number } {
  const counts = new Map<string, number>();
  let total = 0;
  for (let i = 0; i <= text.length - n; i++) {
    const gram = text.slice(i, i + n);
    counts.set(gram, (counts.get(gram) ?? 0) + 1);
    total += 1;
  }
  return { counts, total };
}

export class Featurizer {
  readonly dimension: number;
  /**
   * For n = 1..4: each vocabulary n-gram's feature index (or indices, should a list repeat an
   * entry), so that a text is featurized by looking up its own n-grams, a few dozen per text,
   * instead of every vocabulary entry.
   */
  private readonly indicesOf: Map<string, number[]>[];
  private readonly segments: { start: number; end: number }[];

  constructor(vocabulary: LandeVocabulary) {
    const lists = [vocabulary.unigrams, vocabulary.bigrams, vocabulary.trigrams, vocabulary.quadgrams];
    this.segments = [];
    this.indicesOf = [];
    let start = 0;
    for (const list of lists) {
      const indices = new Map<string, number[]>();
      list.forEach((gram, j) => {
        const known = indices.get(gram);
        if (known) known.push(start + j);
        else indices.set(gram, [start + j]);
      });
      this.indicesOf.push(indices);
      this.segments.push({ start, end: start + list.length });
      start += list.length;
    }
    this.dimension = start;
  }

  /** Writes the features of `text` into `out` (length `dimension`) and returns it. */
  featurize(text: string, out: Float32Array = new Float32Array(this.dimension)): Float32Array {
    const normalized = normalizeText(text);
    out.fill(0);
    this.segments.forEach(({ start, end }, index) => {
      const n = index + 1;
      const total = normalized.length - n + 1; // n-gram positions
      if (total <= 0) return;
      const indicesOf = this.indicesOf[index] as Map<string, number[]>;
      for (let i = 0; i < total; i++) {
        const indices = indicesOf.get(normalized.slice(i, i + n));
        if (indices) for (const j of indices) out[j] = (out[j] as number) + 1;
      }
      // Counts are exact in float32; dividing them here rounds like storing count / total.
      for (let j = start; j < end; j++) if (out[j] !== 0) out[j] = (out[j] as number) / total;
    });
    return out;
  }
  /** Features of many texts as one row-major [texts × dimension] matrix. */
  featurizeAll(texts: readonly string[]): Float32Array {
    const matrix = new Float32Array(texts.length * this.dimension);
    texts.forEach((text, row) => {
      this.featurize(text, matrix.subarray(row * this.dimension, (row + 1) * this.dimension));
    });
    return matrix;
  }
}

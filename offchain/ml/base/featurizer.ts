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
  private readonly lists: string[][];

  constructor(vocabulary: LandeVocabulary) {
    this.lists = [vocabulary.unigrams, vocabulary.bigrams, vocabulary.trigrams, vocabulary.quadgrams];
    this.dimension = this.lists.reduce((sum, list) => sum + list.length, 0);
  }

  /** Writes the features of `text` into `out` (length `dimension`) and returns it. */
  featurize(text: string, out: Float32Array = new Float32Array(this.dimension)): Float32Array {
    const normalized = normalizeText(text);
    let offset = 0;
    this.lists.forEach((list, index) => {
      const { counts, total } = countNgrams(normalized, index + 1);
      for (let j = 0; j < list.length; j++) {
        const count = counts.get(list[j] as string);
        out[offset + j] = count === undefined ? 0 : count / total;
      }
      offset += list.length;
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

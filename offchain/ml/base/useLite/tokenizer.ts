/**
 * USE-lite's tokenizer: SentencePiece unigram over the package's vocab.json (8,000 pieces with
 * log-probability scores), giving the ids the reference tokenizer of `@energetic-ai/embeddings`
 * gives (the one the model is served with), within the first 128 tokens:
 *  - Normalisation: NFKC; then "▁" (U+2581) before the text and in place of each space U+0020
 *    (other whitespace is not a piece: tabs and newlines become unknown tokens).
 *  - Segmentation: Viterbi over code points maximising the sum of piece scores. Pieces 0–5
 *    (unknown, <s>, </s>, extra ids) are never matched; a position where no piece starts
 *    becomes the unknown piece (id 0, score 0, one code point); runs of unknowns merge into
 *    one id 0. A null score counts as 0.
 *  - Reference quirks kept for parity: among equal scores the later-starting (shorter) last
 *    piece wins, and a position whose best score is exactly 0 (unset, or reached only through
 *    0-score pieces) takes the next candidate whatever its score; a repeated piece keeps the
 *    id of its last entry.
 *  - Bounded cost: the model reads 128 tokens, so the text is cut to its first 4,096 UTF-16
 *    units before normalising and the ids to 128. Equal to the reference's first 128 ids
 *    whenever those lie before the last space of the cut text (no piece spans a "▁", so
 *    Viterbi's choice up to a space does not depend on what follows); only texts whose 128
 *    tokens need more than ~4,000 characters (a long run of unknown characters) can differ.
 */
import { BaseModelSourceError } from "../../errors";
import { USE_LITE } from "./modules";
import type { VocabEntry } from "./source";

export const WORD_BOUNDARY = "\u2581";
export const UNKNOWN_ID = 0;
/** Entries 0–5 of vocab.json are control pieces, never produced by segmentation. */
const RESERVED_PIECES = 6;
/** UTF-16 units of input read at most (see the header). */
export const MAX_INPUT_UNITS = 4_096;

interface TrieNode {
  children: Map<number, TrieNode>;
  /** Vocabulary id of the piece ending here, or -1. */
  id: number;
  score: number;
}

function newNode(): TrieNode {
  return { children: new Map(), id: -1, score: 0 };
}

/** The text the pieces are matched against: NFKC, "▁" for spaces and at the start. */
export function normalizeForPieces(text: string): string {
  const normalized = text.normalize("NFKC");
  return normalized.length === 0 ? "" : WORD_BOUNDARY + normalized.replaceAll(" ", WORD_BOUNDARY);
}

/** The first `units` UTF-16 units of `text`, not splitting a surrogate pair. */
export function cutText(text: string, units = MAX_INPUT_UNITS): string {
  if (text.length <= units) return text;
  const last = text.charCodeAt(units - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? units - 1 : units);
}

export class UseLiteTokenizer {
  private readonly root = newNode();
  /** Code points each id consumes (what the backtracking steps back by). */
  private readonly lengths: Int32Array;

  constructor(vocabulary: readonly VocabEntry[]) {
    if (vocabulary.length !== USE_LITE.vocabSize) {
      throw new BaseModelSourceError("unexpected USE-lite vocabulary size", { pieces: vocabulary.length });
    }
    this.lengths = new Int32Array(vocabulary.length);
    vocabulary.forEach(([piece, score], id) => {
      const points = Array.from(piece, (c) => c.codePointAt(0) as number);
      this.lengths[id] = points.length;
      if (id >= RESERVED_PIECES) this.insert(points, id, score ?? 0);
    });
    this.lengths[UNKNOWN_ID] = 1;
  }

  private insert(points: number[], id: number, score: number): void {
    let node = this.root;
    for (const point of points) {
      let child = node.children.get(point);
      if (!child) {
        child = newNode();
        node.children.set(point, child);
      }
      node = child;
    }
    node.id = id;
    node.score = score;
  }

  /** Token ids of `text`, at most 128 (the model's window); [] for an empty text. */
  encode(text: string): number[] {
    const symbols = Array.from(normalizeForPieces(cutText(text)), (c) => c.codePointAt(0) as number);
    if (symbols.length === 0) return [];
    const word = this.viterbi(symbols);
    return mergeUnknowns(this.backtrack(word, symbols.length)).slice(0, USE_LITE.maxTokens);
  }

  /**
   * Returns word[e], the last piece of the best segmentation of symbols[0, e); best[e] holds
   * that segmentation's total score.
   */
  private viterbi(symbols: number[]): Int32Array {
    const n = symbols.length;
    const best = new Float64Array(n + 1);
    const word = new Int32Array(n + 1);
    // Relaxing forward by ascending start visits each end's candidates in the reference's
    // order (ascending start), and best[start] is final when start is reached.
    for (let start = 0; start < n; start++) {
      let node: TrieNode | undefined = this.root;
      let matched = false;
      for (let end = start + 1; end <= n && node; end++) {
        node = node.children.get(symbols[end - 1] as number);
        if (node && node.id >= 0) {
          matched = true;
          relax(best, word, end, node.score + (best[start] as number), node.id);
        }
      }
      if (!matched) relax(best, word, start + 1, 0 + (best[start] as number), UNKNOWN_ID);
    }
    return word;
  }

  private backtrack(word: Int32Array, n: number): number[] {
    const ids: number[] = [];
    for (let end = n; end > 0; end -= this.lengths[word[end] as number] as number)
      ids.push(word[end] as number);
    return ids.reverse();
  }
}

/** The reference's update rule, `>=` and the 0-as-unset test included. */
function relax(best: Float64Array, word: Int32Array, end: number, score: number, id: number): void {
  if (best[end] === 0 || score >= (best[end] as number)) {
    best[end] = score;
    word[end] = id;
  }
}

function mergeUnknowns(ids: number[]): number[] {
  return ids.filter((id, i) => !(id === UNKNOWN_ID && ids[i - 1] === UNKNOWN_ID));
}

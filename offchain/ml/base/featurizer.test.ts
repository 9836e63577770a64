import { describe, expect, it } from "vitest";
import { countNgrams, Featurizer, normalizeText } from "./featurizer";

describe("featurizer", () => {
  it("normalizes like lande: hyphens to spaces, only letters/marks/whitespace, collapsed, lower-cased, padded", () => {
    expect(normalizeText("Well-known  FACT: 42 apples!")).toBe(" well known fact apples ");
    expect(normalizeText("")).toBe("  ");
    expect(normalizeText("Ça\tva?")).toBe(" ça\tva ");
  });

  it("counts n-grams over UTF-16 code units", () => {
    const { counts, total } = countNgrams(" aa ", 2);
    expect(total).toBe(3);
    expect(Object.fromEntries(counts)).toEqual({ " a": 1, aa: 1, "a ": 1 });
    expect(countNgrams("𠜎", 1).total).toBe(2);
  });

  it("gives each vocabulary n-gram its frequency among the text's n-grams of that length", () => {
    const featurizer = new Featurizer({
      unigrams: [" ", "a", "z"],
      bigrams: ["aa"],
      trigrams: [],
      quadgrams: ["zzzz"],
    });
    expect(featurizer.dimension).toBe(5);
    // " aa ": unigrams " ", a, a, " " → 0.5, 0.5, 0; bigrams " a", aa, "a " → aa = 1/3.
    expect(Array.from(featurizer.featurize("AA"))).toEqual([0.5, 0.5, 0, Math.fround(1 / 3), 0]);
  });

  it("gives a repeated vocabulary entry its frequency at each place, and n-grams longer than the text 0", () => {
    const featurizer = new Featurizer({
      unigrams: ["a", "b", "a"],
      bigrams: [],
      trigrams: ["  x"],
      quadgrams: [" a  "],
    });
    // "" → "  ": unigrams " ", " " (no a or b); one bigram; no trigram or quadgram positions.
    expect(Array.from(featurizer.featurize(""))).toEqual([0, 0, 0, 0, 0]);
    // "ab" → " ab ": a and b each 1/4 of the unigrams, at both places of a.
    expect(Array.from(featurizer.featurize("ab"))).toEqual([0.25, 0.25, 0.25, 0, 0]);
  });
});

import { describe, expect, it } from "vitest";
import { BaseModelSourceError } from "../../errors";
import { USE_LITE } from "./modules";
import { loadUseLiteSource } from "./source";
import { cutText, MAX_INPUT_UNITS, UNKNOWN_ID, UseLiteTokenizer } from "./tokenizer";

const { vocabulary } = loadUseLiteSource();
const tokenizer = new UseLiteTokenizer(vocabulary);
const pieces = (text: string) => tokenizer.encode(text).map((id) => vocabulary[id]?.[0]);

describe("USE-lite tokenizer", () => {
  it("segments into the highest-scoring pieces, with ▁ for word starts", () => {
    // "▁hello" is not a piece of this vocabulary.
    expect(pieces("hello world")).toEqual(["▁hell", "o", "▁world"]);
    expect(pieces("The quick brown.")).toEqual(["▁The", "▁quick", "▁brown", "."]);
  });

  it("gives no tokens for an empty text, and ▁ tokens for spaces", () => {
    expect(tokenizer.encode("")).toEqual([]);
    expect(pieces(" ")).toEqual(["▁", "▁"]);
  });

  it("applies NFKC first: full-width letters and ligatures read as their plain forms", () => {
    expect(tokenizer.encode("ｈｅｌｌｏ ｗｏｒｌｄ")).toEqual(tokenizer.encode("hello world"));
    expect(tokenizer.encode("ﬁne")).toEqual(tokenizer.encode("fine"));
  });

  it("maps characters without a piece to one unknown id per run (emoji, tabs, other scripts)", () => {
    expect(pieces("😀😀😀")).toEqual(["▁", "\uFFFD"]);
    const ids = tokenizer.encode("a\t\t\tb");
    expect(ids.filter((id) => id === UNKNOWN_ID)).toHaveLength(1);
    expect(tokenizer.encode("这句话")).toContain(UNKNOWN_ID);
  });

  it("reads at most 4,096 UTF-16 units and returns at most 128 ids, without splitting a surrogate pair", () => {
    const body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20_000);
    const ids = tokenizer.encode(body);
    expect(ids).toHaveLength(USE_LITE.maxTokens);
    expect(ids).toEqual(tokenizer.encode(body.slice(0, 2_000)));
    const astral = `${"a".repeat(MAX_INPUT_UNITS - 1)}😀`;
    expect(cutText(astral)).toBe("a".repeat(MAX_INPUT_UNITS - 1));
    expect(cutText("short")).toBe("short");
  });

  it("refuses a vocabulary of another size", () => {
    expect(() => new UseLiteTokenizer(vocabulary.slice(1))).toThrow(BaseModelSourceError);
  });
});

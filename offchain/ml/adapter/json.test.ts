import { describe, expect, it } from "vitest";
import { formatJson } from "./json";

describe("manifest JSON layout", () => {
  it("indents objects and keeps short scalar arrays and matrices on one line", () => {
    const text = formatJson({
      a: { b: [1, 2] },
      m: [
        [1, 0],
        [0, 1],
      ],
      s: ["x", "y"],
      o: [{ k: 1 }],
      e: [],
      skip: undefined,
    });
    expect(text).toBe(
      '{\n  "a": {\n    "b": [1, 2]\n  },\n  "m": [[1, 0], [0, 1]],\n  "s": ["x", "y"],\n  "o": [\n    {\n      "k": 1\n    }\n  ],\n  "e": []\n}\n',
    );
    expect(JSON.parse(text)).toEqual({
      a: { b: [1, 2] },
      m: [
        [1, 0],
        [0, 1],
      ],
      s: ["x", "y"],
      o: [{ k: 1 }],
      e: [],
    });
  });

  it("puts one element per line when an array does not fit in 110 columns", () => {
    const long = Array.from({ length: 30 }, (_, i) => `label${i}`);
    const text = formatJson({ labels: long });
    expect(text.split("\n")).toHaveLength(long.length + 5);
    expect(JSON.parse(text)).toEqual({ labels: long });
  });
});

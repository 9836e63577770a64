import { describe, expect, it } from "vitest";
import { BaseModelSourceError } from "../../errors";
import { createSession } from "../../onnx/session";
import { USE_LITE } from "./modules";
import { denseBatch, embedTexts, USE_LITE_HASH, useLiteBase } from "./useLiteBase";

describe("useLiteBase", () => {
  it("is built once per process, with the pinned hash", () => {
    const base = useLiteBase();
    expect(base.hash).toBe(USE_LITE_HASH);
    expect(useLiteBase()).toBe(base);
  });

  it("embeds texts as unit vectors, related texts closer than unrelated ones", async () => {
    const base = useLiteBase();
    const session = await createSession(base.onnx);
    const texts = [
      "The stock market fell sharply today.",
      "Shares dropped a lot this afternoon.",
      "I baked a cake.",
    ];
    const e = await embedTexts(session, base, texts);
    const row = (i: number) => e.subarray(i * USE_LITE.outputDim, (i + 1) * USE_LITE.outputDim);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * (b[i] as number), 0);
    for (const i of [0, 1, 2]) expect(dot(row(i), row(i))).toBeCloseTo(1, 5);
    expect(dot(row(0), row(1))).toBeGreaterThan(dot(row(0), row(2)) + 0.2);
  });

  it("pads rows on the right with mask 0, and refuses rows over 128 tokens", () => {
    const batch = denseBatch([[5, 6], [7], []]);
    expect([batch.rows, batch.tokens]).toEqual([3, 2]);
    expect(Array.from(batch.ids, Number)).toEqual([5, 6, 7, 0, 0, 0]);
    expect(Array.from(batch.mask, Number)).toEqual([1, 1, 1, 0, 0, 0]);
    expect(denseBatch([[]]).tokens).toBe(1);
    expect(() => denseBatch([Array(129).fill(7)])).toThrow(BaseModelSourceError);
  });
});

import { describe, expect, it } from "vitest";
import { USE_LITE } from "../base/useLite/modules";
import type { PeftAdapter } from "./adapterModel";
import { createLoraConfig } from "./config";
import { classify, mergedKernel, moduleSideInputs, sideInputs } from "./loraMath";
import { randomAdapter } from "./testing/randomAdapter";

describe("LoRA math", () => {
  // in = 3, out = 2, r = 2. A [r, in], B [out, r] as PEFT stores them.
  const factors = { a: Float32Array.of(1, 2, 3, 4, 5, 6), b: Float32Array.of(1, -1, 0.5, 2) };

  it("turns lora_A [r, in] and lora_B [out, r] into lora_a = Aᵀ and lora_b = Bᵀ·scaling", () => {
    const { a, b } = moduleSideInputs(factors, 2, 3, 2, 0.5);
    expect(a.shape).toEqual([3, 2]);
    expect(Array.from(a.data)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(b.shape).toEqual([2, 2]);
    expect(Array.from(b.data)).toEqual([0.5, 0.25, -0.5, 1]);
  });

  it("merges W' = W + scaling·(B·A)ᵀ in the [in, out] layout", () => {
    // B·A = [[1·1 − 1·4, 1·2 − 1·5, 1·3 − 1·6], [0.5·1 + 2·4, 0.5·2 + 2·5, 0.5·3 + 2·6]]
    //     = [[−3, −3, −3], [8.5, 11, 13.5]]; transposed → [in, out] rows [−3, 8.5], [−3, 11], [−3, 13.5].
    const weight = Float32Array.of(1, 1, 1, 1, 1, 1);
    expect(Array.from(mergedKernel(weight, factors, 2, 3, 2, 2))).toEqual([-5, 18, -5, 23, -5, 28]);
  });

  it("agrees with the side path: x·W' = x·W + (x·lora_a)·lora_b", () => {
    const x = [0.3, -1.2, 2];
    const weight = Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6);
    const merged = mergedKernel(weight, factors, 2, 3, 2, 0.75);
    const { a, b } = moduleSideInputs(factors, 2, 3, 2, 0.75);
    for (let o = 0; o < 2; o++) {
      let viaMerged = 0;
      let viaSide = 0;
      for (let i = 0; i < 3; i++) viaMerged += (x[i] as number) * (merged[i * 2 + o] as number);
      for (let i = 0; i < 3; i++) viaSide += (x[i] as number) * (weight[i * 2 + o] as number);
      for (let k = 0; k < 2; k++) {
        let down = 0;
        for (let i = 0; i < 3; i++) down += (x[i] as number) * (a.data[i * 2 + k] as number);
        viaSide += down * (b.data[k * 2 + o] as number);
      }
      expect(viaSide).toBeCloseTo(viaMerged, 5);
    }
  });

  it("feeds zeros to graph modules the adapter does not target, and refuses targets the graph lacks", () => {
    const adapter = randomAdapter(createLoraConfig({ r: 2, targetModules: ["pooler.dense"] }), 5);
    const feeds = sideInputs(adapter, ["encoder.layer.0.residual", "pooler.dense"]);
    expect([...feeds.keys()]).toEqual([
      "encoder.layer.0.residual.lora_a",
      "encoder.layer.0.residual.lora_b",
      "pooler.dense.lora_a",
      "pooler.dense.lora_b",
    ]);
    expect(feeds.get("encoder.layer.0.residual.lora_b")?.data.every((v) => v === 0)).toBe(true);
    expect(feeds.get("encoder.layer.0.residual.lora_a")?.shape).toEqual([256, 2]);
    expect(feeds.get("pooler.dense.lora_b")?.data.some((v) => v !== 0)).toBe(true);
    expect(() => sideInputs(adapter, ["encoder.layer.0.residual"])).toThrow(
      /no LoRA inputs for pooler.dense/,
    );
  });

  it("scales by alpha/r, or alpha/√r with rsLoRA", () => {
    const plain = randomAdapter(createLoraConfig({ r: 4, alpha: 8, targetModules: ["pooler.dense"] }), 6);
    const rs: PeftAdapter = { ...plain, config: { ...plain.config, use_rslora: true } };
    const b = plain.factors.get("pooler.dense")?.b as Float32Array;
    // lora_b[k=0][o=0] = B[o=0][k=0] · scaling
    expect(sideInputs(plain).get("pooler.dense.lora_b")?.data[0]).toBe(Math.fround((b[0] as number) * 2));
    expect(sideInputs(rs).get("pooler.dense.lora_b")?.data[0]).toBe(Math.fround((b[0] as number) * 4));
  });

  it("classifies embeddings with logits = W·e + b and softmax", () => {
    const d = USE_LITE.outputDim;
    const weight = new Float32Array(2 * d);
    weight[0] = 2; // class 0 reads e[0]
    weight[d + 1] = -1; // class 1 reads −e[1]
    const head = { labels: ["no", "yes"], weight, bias: Float32Array.of(0.5, 0) };
    const e = new Float32Array(2 * d);
    e[0] = 1; // row 0: logits [2.5, 0]
    e[d + 1] = 3; // row 1: logits [0.5, −3]
    const p = classify(e, head);
    const softmax = (l0: number, l1: number) => [1 / (1 + Math.exp(l1 - l0)), 1 / (1 + Math.exp(l0 - l1))];
    const expected = [...softmax(2.5, 0), ...softmax(0.5, -3)];
    expect(Array.from(p).map((v, i) => Math.abs(v - (expected[i] as number)) < 1e-7)).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });
});

import { describe, expect, it } from "vitest";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./halfPrecision";

/** [bits, value] pairs from the IEEE 754 binary16 table. */
const F16: [number, number][] = [
  [0x0000, 0],
  [0x3c00, 1],
  [0xc000, -2],
  [0x3555, 0.333251953125],
  [0x7bff, 65504],
  [0x0400, 6.103515625e-5],
  [0x03ff, 1023 * 2 ** -24],
  [0x0001, 2 ** -24],
  [0x7c00, Number.POSITIVE_INFINITY],
  [0xfc00, Number.NEGATIVE_INFINITY],
  [0x4248, 3.140625],
];

/** [bits, value] pairs for bfloat16 (the upper half of a float32). */
const BF16: [number, number][] = [
  [0x0000, 0],
  [0x3f80, 1],
  [0xc000, -2],
  [0x4049, 3.140625],
  [0x3eab, 0.333984375],
  [0x7f7f, 3.3895313892515355e38],
  [0x0001, 2 ** -133],
  [0x7f80, Number.POSITIVE_INFINITY],
  [0xff80, Number.NEGATIVE_INFINITY],
];

describe("half precision", () => {
  it("decodes F16 bits to the values of the binary16 table", () => {
    for (const [bits, value] of F16) expect(f16ToF32(bits), bits.toString(16)).toBe(value);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x7e00)).toBeNaN();
  });

  it("decodes BF16 bits to the upper half of a float32", () => {
    for (const [bits, value] of BF16) expect(bf16ToF32(bits), bits.toString(16)).toBe(value);
    expect(bf16ToF32(0x7fc0)).toBeNaN();
  });

  it("encodes exactly representable values back to the same bits", () => {
    for (const [bits, value] of F16) expect(f32ToF16(value), bits.toString(16)).toBe(bits);
    for (const [bits, value] of BF16) expect(f32ToBf16(value), bits.toString(16)).toBe(bits);
    expect(f32ToF16(-0)).toBe(0x8000);
  });

  it("rounds to nearest, ties to even, with overflow to infinity and underflow to zero", () => {
    expect(f32ToF16(1 / 3)).toBe(0x3555);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(f32ToF16(65519)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(f32ToF16(3 * 2 ** -25)).toBe(0x0002);
    expect(f32ToF16(2 ** -26)).toBe(0x0000);
    expect(f32ToF16(6.1e-5)).toBe(0x03ff);
    expect(f32ToF16(Number.NaN) & 0x7e00).toBe(0x7e00);
    expect(f32ToBf16(1 / 3)).toBe(0x3eab);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16(3.4e38)).toBe(0x7f80);
    expect(f32ToBf16(Number.NaN) & 0x7fc0).toBe(0x7fc0);
  });

  it("round-trips every F16 and every BF16 bit pattern that is not NaN", () => {
    const wrong: string[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const h = f16ToF32(bits);
      if (!Number.isNaN(h) && f32ToF16(h) !== bits) wrong.push(`f16 ${bits.toString(16)}`);
      const b = bf16ToF32(bits);
      if (!Number.isNaN(b) && f32ToBf16(b) !== bits) wrong.push(`bf16 ${bits.toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });
});

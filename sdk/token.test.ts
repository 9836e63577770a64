import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "./errors";
import { formatAmount, parseAmount } from "./token";

describe("amounts in token units", () => {
  it("parses decimal amounts into base units exactly", () => {
    expect(parseAmount("12.5", 6)).toBe(12_500_000n);
    expect(parseAmount("0.000001", 6)).toBe(1n);
    expect(parseAmount(" 7 ", 6)).toBe(7_000_000n);
    expect(parseAmount("1", 18)).toBe(10n ** 18n);
  });

  it("refuses what is not an amount or has more decimals than the token", () => {
    expect(() => parseAmount("1.0000001", 6)).toThrow(/more than 6 decimals/);
    for (const text of ["", "-1", "1e6", "1,5", ".5", "0x10"]) {
      expect(() => parseAmount(text, 6), text).toThrow(InvalidArgumentError);
    }
  });

  it("formats base units back without trailing zeros", () => {
    expect(formatAmount(12_500_000n, 6)).toBe("12.5");
    expect(formatAmount(1n, 6)).toBe("0.000001");
    expect(formatAmount(3_000_000n, 6)).toBe("3");
    expect(formatAmount(-1_500_000n, 6)).toBe("-1.5");
    expect(formatAmount(parseAmount("123.456789", 6), 6)).toBe("123.456789");
  });
});

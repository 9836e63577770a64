import { describe, expect, it } from "vitest";
import { formatDate, span } from "./dates";

describe("dates a person reads", () => {
  const now = BigInt(Date.UTC(2026, 11, 6, 1, 53) / 1000);

  it("prints a UTC date-time with the time left, counted from the chain's now", () => {
    expect(formatDate(now + 7n * 86_400n, now)).toBe("2026-12-13 01:53 UTC (in 7 days)");
    expect(formatDate(now + 3_600n, now)).toBe("2026-12-06 02:53 UTC (in 1 hour)");
    expect(formatDate(now - 120n, now)).toBe("2026-12-06 01:51 UTC (2 minutes ago)");
    expect(formatDate(now, now)).toBe("2026-12-06 01:53 UTC (now)");
  });

  it("names the largest whole unit", () => {
    expect(span(59)).toBe("59 seconds");
    expect(span(90_000)).toBe("1 day");
  });
});

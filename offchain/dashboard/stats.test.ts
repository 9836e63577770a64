import { describe, expect, it } from "vitest";
import { LatencyWindow, RateWindow } from "./stats";

describe("RateWindow", () => {
  const t0 = 1_000_000_000; // a whole second

  it("counts calls per second bucket and shifts them as time passes", () => {
    const rate = new RateWindow(5, t0);
    rate.add(1, t0 + 100);
    rate.add(2, t0 + 900);
    rate.add(1, t0 + 1_200);
    expect(rate.series(t0 + 1_500)).toEqual([0, 0, 0, 3, 1]);
    expect(rate.series(t0 + 3_000)).toEqual([0, 3, 1, 0, 0]);
    expect(rate.series(t0 + 60_000)).toEqual([0, 0, 0, 0, 0]);
    expect(rate.active(t0 + 60_000)).toBe(false);
  });

  it("averages a burst over its own length, and decays once it is over", () => {
    const rate = new RateWindow(60, t0);
    for (let i = 0; i < 20; i++) rate.add(1, t0 + i * 100); // 10 calls/s for 2 s
    expect(rate.perSecond(10, t0 + 2_000)).toBeCloseTo(10, 5);
    expect(rate.perSecond(10, t0 + 4_000)).toBeCloseTo(5, 5);
    expect(rate.perSecond(10, t0 + 11_500)).toBe(0); // the burst left the 10 s window
  });

  it("never divides a single early call by less than a second", () => {
    const rate = new RateWindow(60, t0);
    rate.add(1, t0 + 10);
    expect(rate.perSecond(10, t0 + 20)).toBe(1);
  });
});

describe("LatencyWindow", () => {
  it("reports nearest-rank percentiles of the last samples", () => {
    const latency = new LatencyWindow(4);
    expect(latency.percentile(50)).toBeNull();
    for (const ms of [10, 20, 30, 40, 50]) latency.add(ms); // 10 falls out
    expect(latency.last).toBe(50);
    expect(latency.percentile(50)).toBe(30);
    expect(latency.percentile(95)).toBe(50);
    expect(latency.percentile(0)).toBe(20);
  });
});

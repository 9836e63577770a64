/** Live call statistics per model: a per-second call histogram and recent latencies. */

/** Calls per one-second bucket over the last `seconds` seconds. */
export class RateWindow {
  private readonly buckets: number[];
  private newest: number; // the second (unix) the last bucket stands for

  constructor(
    private readonly seconds = 60,
    now = Date.now(),
  ) {
    this.buckets = new Array(seconds).fill(0);
    this.newest = Math.floor(now / 1000);
  }

  add(count = 1, now = Date.now()): void {
    this.advance(now);
    this.buckets[this.seconds - 1] = (this.buckets[this.seconds - 1] as number) + count;
  }

  /** Calls per second, oldest first, the current (partial) second last. */
  series(now = Date.now()): number[] {
    this.advance(now);
    return [...this.buckets];
  }

  /**
   * Calls per second over the last `window` seconds, the current one included. A burst that
   * began within the window is averaged over its own length (at least one second), so the
   * rate of traffic that just started is not diluted by the quiet seconds before it.
   */
  perSecond(window = 10, now = Date.now()): number {
    this.advance(now);
    const recent = this.buckets.slice(-window);
    const first = recent.findIndex((n) => n > 0);
    if (first < 0) return 0;
    const calls = recent.reduce((sum, n) => sum + n, 0);
    const elapsed = recent.length - 1 - first + (now % 1000) / 1000; // seconds since the first bucket began
    return calls / Math.max(1, elapsed);
  }

  /** Whether any call fell in the window (the rate still changes as time passes). */
  active(now = Date.now()): boolean {
    return this.series(now).some((n) => n > 0);
  }

  private advance(now: number): void {
    const second = Math.floor(now / 1000);
    const shift = Math.min(this.seconds, second - this.newest);
    if (shift <= 0) return;
    this.buckets.splice(0, shift);
    for (let i = 0; i < shift; i++) this.buckets.push(0);
    this.newest = second;
  }
}

/** The last `size` latencies and their percentiles. */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;
  last: number | null = null;

  constructor(private readonly size = 512) {}

  add(ms: number): void {
    this.last = ms;
    if (this.samples.length < this.size) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.size;
  }

  /** Nearest-rank percentile (p in 0..100) of the kept samples; null when there are none. */
  percentile(p: number): number | null {
    if (this.samples.length === 0) return null;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    return sorted[rank - 1] as number;
  }
}

/**
 * Micro-batching scheduler: requests wait at most `maxWaitMs` (or until `maxBatch` are queued)
 * and then run together in one executor call. Batches are filled round-robin across models,
 * so a model with a deep queue cannot starve the others. When `maxQueue` requests are already
 * waiting, new ones are refused at once with QueueFullError (the HTTP layer answers 503).
 */
export interface SchedulerOptions<Req, Res> {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  /** Batches allowed in flight at once. */
  concurrency?: number;
  /** Runs one batch; must return one result per request, in order. */
  run(batch: Req[]): Promise<Res[]>;
}

export class QueueFullError extends Error {
  constructor(readonly details: { queued: number; maxQueue: number }) {
    super(`the runner is at capacity (${details.queued} requests queued); retry later`);
    this.name = "QueueFullError";
  }
}

interface Waiting<Req, Res> {
  request: Req;
  /** When it was queued (performance.now()). */
  at: number;
  resolve(result: Res): void;
  reject(error: unknown): void;
}

export class Scheduler<Req, Res> {
  private readonly queues = new Map<string, Waiting<Req, Res>[]>();
  private queued = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  readonly stats = { batches: 0, requests: 0, rejected: 0 };

  constructor(private readonly options: SchedulerOptions<Req, Res>) {}

  get depth(): number {
    return this.queued;
  }

  submit(key: string, request: Req): Promise<Res> {
    if (this.queued >= this.options.maxQueue) {
      this.stats.rejected++;
      return Promise.reject(new QueueFullError({ queued: this.queued, maxQueue: this.options.maxQueue }));
    }
    return new Promise<Res>((resolve, reject) => {
      const queue = this.queues.get(key) ?? [];
      this.queues.set(key, queue);
      queue.push({ request, at: performance.now(), resolve, reject });
      this.queued++;
      this.schedule();
    });
  }

  private schedule(): void {
    const concurrency = this.options.concurrency ?? 1;
    while (this.inFlight < concurrency && this.queued >= this.options.maxBatch) this.dispatch();
    if (this.queued > 0 && this.inFlight < concurrency && !this.timer) {
      // The wait counts from the oldest request's arrival: one that queued behind a batch in
      // flight has had its wait for company when that batch is done, and goes at once (else an
      // executor on its own thread would sit idle for maxWaitMs after each batch).
      const waitMs = this.options.maxWaitMs - (performance.now() - this.oldestArrival());
      if (waitMs <= 0) {
        this.dispatch();
        this.schedule();
        return;
      }
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.queued > 0 && this.inFlight < concurrency) this.dispatch();
        this.schedule();
      }, waitMs);
    }
  }

  private oldestArrival(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const queue of this.queues.values()) oldest = Math.min(oldest, queue[0]?.at ?? oldest);
    return oldest;
  }

  /** Takes up to maxBatch requests, one per model in turn, and runs them. */
  private dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch: Waiting<Req, Res>[] = [];
    while (batch.length < this.options.maxBatch && this.queued > 0) {
      for (const [key, queue] of this.queues) {
        const next = queue.shift();
        if (next) {
          batch.push(next);
          this.queued--;
        }
        // Re-inserting moves the model behind the others: the next batch starts elsewhere.
        this.queues.delete(key);
        if (queue.length > 0) this.queues.set(key, queue);
        if (batch.length === this.options.maxBatch) break;
      }
    }
    this.inFlight++;
    this.stats.batches++;
    this.stats.requests += batch.length;
    void this.execute(batch);
  }

  /**
   * Runs a batch, then dispatches the next one before answering this one's requests: their
   * callers' next steps (answering HTTP, payments, a next request's tokenizing and cold adapter
   * load) then run on the event loop while an executor on another thread already runs the next
   * batch, rather than before it starts.
   */
  private async execute(batch: Waiting<Req, Res>[]): Promise<void> {
    let outcome: { results: Res[] } | { error: unknown };
    try {
      const results = await this.options.run(batch.map((w) => w.request));
      if (results.length !== batch.length) {
        throw new Error(`executor returned ${results.length} results for a batch of ${batch.length}`);
      }
      outcome = { results };
    } catch (error) {
      outcome = { error };
    }
    this.inFlight--;
    this.schedule();
    if ("error" in outcome) for (const w of batch) w.reject(outcome.error);
    else for (const [i, w] of batch.entries()) w.resolve(outcome.results[i] as Res);
  }
}

import { describe, expect, it } from "vitest";
import { QueueFullError, Scheduler } from "./scheduler";

type Req = { model: string; x: number };

function recordingScheduler(options: {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  delayMs?: number;
}) {
  const batches: Req[][] = [];
  const scheduler = new Scheduler<Req, number>({
    ...options,
    run: async (batch) => {
      batches.push(batch);
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      return batch.map((r) => r.x * 2);
    },
  });
  const submit = (model: string, x: number) => scheduler.submit(model, { model, x });
  return { scheduler, batches, submit };
}

describe("Scheduler", () => {
  it("answers each request with its own result", async () => {
    const { submit } = recordingScheduler({ maxBatch: 4, maxWaitMs: 5, maxQueue: 100 });
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => submit("a", x)));
    expect(results).toEqual([2, 4, 6, 8, 10, 12]);
  });

  it("runs a full batch at once and a partial one after the wait", async () => {
    const { submit, batches } = recordingScheduler({ maxBatch: 3, maxWaitMs: 30, maxQueue: 100 });
    const started = Date.now();
    await Promise.all([1, 2, 3, 4].map((x) => submit("a", x)));
    expect(batches.map((b) => b.length)).toEqual([3, 1]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it("counts a request's wait for company from its arrival: one queued behind a batch goes when that batch is done", async () => {
    const { submit, batches } = recordingScheduler({ maxBatch: 2, maxWaitMs: 5, maxQueue: 100, delayMs: 30 });
    const first = [submit("a", 1), submit("a", 2)]; // a full batch: runs at once, for 30 ms
    const queued = submit("a", 3); // has waited its 5 ms for company when the first is done
    const seen = await first[0]?.then(() => batches.length);
    expect(seen).toBe(2); // it went out before this caller resumed, not maxWaitMs after
    expect(await queued).toBe(6);
  });

  it("fills batches round-robin across models so a busy model cannot starve others", async () => {
    const { submit, batches } = recordingScheduler({ maxBatch: 4, maxWaitMs: 5, maxQueue: 100, delayMs: 5 });
    // The first four run at once; while they do, eight more "busy" requests queue ahead of two
    // requests for other models. The next batch still carries both of those.
    const busy = Array.from({ length: 12 }, (_, i) => submit("busy", i));
    const others = [submit("quiet", 100), submit("calm", 200)];
    await Promise.all([...busy, ...others]);
    expect(batches[0]?.map((r) => r.model)).toEqual(["busy", "busy", "busy", "busy"]);
    const second = batches[1]?.map((r) => r.model);
    expect(second).toContain("quiet");
    expect(second).toContain("calm");
    expect(second?.filter((m) => m === "busy")).toHaveLength(2);
  });

  it("refuses new requests with QueueFullError when the queue is full", async () => {
    const { scheduler, submit } = recordingScheduler({
      maxBatch: 2,
      maxWaitMs: 50,
      maxQueue: 3,
      delayMs: 20,
    });
    const accepted = [submit("a", 1), submit("a", 2), submit("a", 3)];
    // The first two are in flight, one waits; two more fill the queue to 3.
    const more = [submit("a", 4), submit("a", 5)];
    await expect(submit("a", 6)).rejects.toBeInstanceOf(QueueFullError);
    expect(scheduler.stats.rejected).toBe(1);
    expect(await Promise.all([...accepted, ...more])).toEqual([2, 4, 6, 8, 10]);
  });

  it("starts the next batch before the finished batch's callers go on", async () => {
    const events: string[] = [];
    const scheduler = new Scheduler<number, number>({
      maxBatch: 2,
      maxWaitMs: 1,
      maxQueue: 10,
      run: async (batch) => {
        events.push(`run ${batch.join(",")}`);
        await new Promise((r) => setTimeout(r, 5));
        return batch;
      },
    });
    // A caller that goes on synchronously once answered (as a client's next request would).
    const calls = [1, 2, 3, 4].map((x) =>
      scheduler.submit("a", x).then((y) => {
        events.push(`answered ${y}`);
      }),
    );
    await Promise.all(calls);
    expect(events.slice(0, 4)).toEqual(["run 1,2", "run 3,4", "answered 1", "answered 2"]);
  });

  it("rejects every request of a batch whose executor fails, and keeps serving", async () => {
    let fail = true;
    const scheduler = new Scheduler<number, number>({
      maxBatch: 2,
      maxWaitMs: 1,
      maxQueue: 10,
      run: async (batch) => {
        if (fail) {
          fail = false;
          throw new Error("session crashed");
        }
        return batch;
      },
    });
    const failed = [scheduler.submit("a", 1), scheduler.submit("a", 2)];
    await expect(Promise.all(failed)).rejects.toThrow("session crashed");
    expect(await scheduler.submit("a", 3)).toBe(3);
  });
});

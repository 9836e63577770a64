/**
 * USE-lite on the inference thread against the executor on this thread: the same bits for a
 * mixed batch (classification and embedding rows, ragged lengths), the same kinds of errors,
 * writes reaching the thread before the runs posted after them, a killed thread failing its
 * batch with InferenceThreadError and the next batch served by a new thread with every resident
 * adapter, and release() ending the thread.
 */
import type { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { USE_LITE } from "../../ml/base/useLite/modules";
import { PARITY_SENTENCES } from "../../ml/base/useLite/testing/sentences";
import { useLiteBase } from "../../ml/base/useLite/useLiteBase";
import { AdapterHashMismatchError } from "../../ml/errors";
import { MIXED_PEFT_FIXTURES, peftAdapterBytes } from "../testing/peftAdapters";
import { AdapterTooLargeError } from "./adapterArena";
import { type TokenRow, tokenBucket, UseLiteExecutor, type UseLiteExecutorOptions } from "./useLiteExecutor";
import { InferenceThreadError, UseLiteThread } from "./useLiteThread";

const adapters = Object.values(MIXED_PEFT_FIXTURES).map(peftAdapterBytes);
const OPTIONS: UseLiteExecutorOptions = { slots: 6, maxRank: 16, maxClasses: 8 };
/** The slot the ordering test overwrites (the others keep the four adapters). */
const SPARE = 5;

const base = useLiteBase();
const batch: TokenRow[] = PARITY_SENTENCES.map((text, i) => ({
  input: base.tokenizer.encode(text),
  slot: i % adapters.length,
}));

let inThread: UseLiteExecutor;
let thread: UseLiteThread;

beforeAll(async () => {
  [inThread, thread] = await Promise.all([UseLiteExecutor.create(OPTIONS), UseLiteThread.create(OPTIONS)]);
  adapters.forEach(({ bytes, hash }, slot) => {
    inThread.load(slot, bytes, hash);
    thread.load(slot, bytes, hash);
  });
});

afterAll(async () => {
  await Promise.all([inThread?.release(), thread?.release()]);
});

const bits = (answers: Float32Array[]) => answers.map((answer) => Array.from(answer));

/** The error a promise rejects with (or the one a function throws). */
async function failure(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

function exited(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once("exit", resolve));
}

describe("UseLiteThread", () => {
  it("answers a mixed batch bit for bit as the executor on this thread does", async () => {
    expect(new Set(batch.map((row) => tokenBucket(row.input.length))).size).toBeGreaterThan(2);
    const [expected, served] = await Promise.all([inThread.run(batch), thread.run(batch)]);
    expect(served.map((answer) => answer.length)).toEqual(expected.map((answer) => answer.length));
    expect(new Set(served.map((answer) => answer.length))).toEqual(new Set([3, 2, USE_LITE.outputDim]));
    expect(bits(served)).toEqual(bits(expected));
    expect(thread.prepare(PARITY_SENTENCES[3] as string)).toEqual(
      inThread.prepare(PARITY_SENTENCES[3] as string),
    );
    expect(thread.method).toBe(`${inThread.method}, on an inference thread`);
  });

  it("fails a run with the executor's own kind of error and message, and serves the next", async () => {
    const long: TokenRow[] = [
      batch[0] as TokenRow,
      { input: new Array(USE_LITE.maxTokens + 1).fill(7), slot: 1 },
    ];
    const mine = await failure(() => thread.run(long));
    const theirs = await failure(() => inThread.run(long));
    expect(mine).toBeInstanceOf(RangeError);
    expect(mine.message).toBe(theirs.message);
    const empty = await failure(() => thread.run([{ input: [5, 6], slot: 4 }]));
    expect([empty.constructor, empty.message]).toEqual([Error, "no adapter is loaded in slot 4"]);
    expect(bits(await thread.run([batch[0] as TokenRow]))).toEqual(
      bits(await inThread.run([batch[0] as TokenRow])),
    );
  });

  it("refuses bad bytes on this thread, at once, leaving the slot's adapter served", async () => {
    const [first] = adapters as [(typeof adapters)[0]];
    const before = await thread.run([batch[0] as TokenRow]);
    const tampered = first.bytes.slice();
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] as number) ^ 0x01;
    expect(() => thread.load(0, tampered, first.hash)).toThrow(AdapterHashMismatchError);
    const big = peftAdapterBytes({ seed: 35, lora: { r: 32, alpha: 32 } });
    expect(() => thread.load(0, big.bytes, big.hash)).toThrow(AdapterTooLargeError);
    expect(() => thread.load(OPTIONS.slots, first.bytes, first.hash)).toThrow(RangeError);
    expect(bits(await thread.run([batch[0] as TokenRow]))).toEqual(bits(before));
  });

  it("writes a slot before the runs posted after it: write, run, overwrite, run", async () => {
    const rows = batch.slice(0, 5).map((row) => ({ ...row, slot: SPARE }));
    const expected: number[][][] = [];
    for (const adapter of [adapters[1], adapters[0]] as (typeof adapters)[number][]) {
      inThread.write(SPARE, adapter.decoded.adapter);
      expected.push(bits(await inThread.run(rows)));
    }
    // Nothing awaited in between: the overwrite is posted while the first run is queued or running.
    thread.write(SPARE, (adapters[1] as (typeof adapters)[number]).decoded.adapter);
    const first = thread.run(rows);
    const labels = thread.write(SPARE, (adapters[0] as (typeof adapters)[number]).decoded.adapter);
    const second = thread.run(rows);
    expect(labels).toEqual(["bearish", "neutral", "bullish"]);
    expect([bits(await first), bits(await second)]).toEqual(expected);
    // An embedding adapter, then a classifier: the two runs cannot agree by chance.
    expect(expected.map((answers) => (answers[0] as number[]).length)).toEqual([USE_LITE.outputDim, 3]);
  });

  // Killed while idle, then killed with a batch in it while it starts: a thread terminated inside
  // session.run takes the process with it (onnxruntime-node; see release()), so the batch is
  // posted to a thread that has not reached the session yet.
  it("fails the batch in a killed thread with InferenceThreadError, then serves every resident adapter from a new one", async () => {
    const expected = bits(await inThread.run(batch));
    const idle = thread.worker as Worker;
    expect(idle).not.toBeNull();
    await Promise.all([exited(idle), idle.terminate()]);
    expect(thread.worker).toBeNull();
    const inFlight = thread.run(batch);
    const starting = thread.worker as Worker;
    expect(starting).not.toBe(idle);
    await starting.terminate();
    const error = await failure(() => inFlight);
    expect(error).toBeInstanceOf(InferenceThreadError);
    expect(error.message).toMatch(/^the inference thread exited \(code \d\) with this batch in it$/);
    expect(thread.worker).toBeNull();
    // A write while no thread runs is kept for the next one.
    const rows = batch.slice(0, 4).map((row) => ({ ...row, slot: SPARE }));
    inThread.write(SPARE, (adapters[3] as (typeof adapters)[number]).decoded.adapter);
    thread.write(SPARE, (adapters[3] as (typeof adapters)[number]).decoded.adapter);
    const [again, spare] = await Promise.all([thread.run(batch), thread.run(rows)]);
    expect(thread.worker).not.toBe(starting);
    expect(bits(again)).toEqual(expected);
    expect(bits(spare)).toEqual(bits(await inThread.run(rows)));
  });

  it("ends the thread on release(), and refuses runs after it", async () => {
    const own = await UseLiteThread.create(OPTIONS);
    const { bytes, hash } = adapters[0] as (typeof adapters)[number];
    own.load(0, bytes, hash);
    expect(await own.run([{ input: [10, 11, 12], slot: 0 }])).toHaveLength(1);
    const ended = exited(own.worker as Worker);
    const answered = own.run([{ input: [13, 14], slot: 0 }]); // posted before: answered, not failed
    await own.release();
    expect(await ended).toBe(0); // closed, not terminated
    expect(await answered).toHaveLength(1);
    expect(own.worker).toBeNull();
    await expect(own.run([{ input: [10], slot: 0 }])).rejects.toThrow(InferenceThreadError);
    expect(() => own.load(0, bytes, hash)).toThrow(/closed/);
  });
});

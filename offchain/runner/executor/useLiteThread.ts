/**
 * USE-lite inference on a worker thread: the thread holds the UseLiteExecutor (its onnxruntime
 * session and adapter arena) and runs the batches, while the event loop parses HTTP, gates
 * payments and journals. onnxruntime-node runs a session synchronously on the thread that calls
 * it, so with the executor on the event loop a paid call's payment work waited for every batch;
 * here it runs on the other core while a batch runs. What this class keeps on the event loop:
 *  - prepare (tokenizing, microseconds) and decode (hash check and PEFT decode), so that a
 *    refused adapter is refused synchronously, before the cache takes a slot;
 *  - each slot's decoded adapter, to write it again into a new thread if the thread dies (memory
 *    of the resident adapters' own size, at their rank, beside the thread's arena).
 * Writes and runs travel over one port, which is FIFO, and the thread handles them one at a
 * time (useLiteThreadServe.ts): a write reaches the arena before any run posted after it.
 *
 * If the thread dies, the batches it held fail with InferenceThreadError (the HTTP layer answers
 * 503 and charges nothing) and the next batch starts a new thread, which gets every resident
 * adapter written again before that batch. (A thread ended from outside while inside
 * session.run takes the process with it, onnxruntime-node's doing: see release().) Errors of a run (a row over 128 tokens: RangeError)
 * come back as the same kind of error as from the executor on this thread; the answers, bit for
 * bit the same (the same executor, options and session settings).
 */
import { Worker } from "node:worker_threads";
import type { Hex } from "viem";
import { readUseLiteSource, useLiteDirectory } from "../../ml/base/useLite/source";
import { UseLiteTokenizer } from "../../ml/base/useLite/tokenizer";
import type { PeftAdapter } from "../../ml/peft/adapterModel";
import type { AdapterSlots } from "../adapterCache";
import type { ServingBackend } from "../inference";
import { decodeUseLiteAdapter, type TokenRow, type UseLiteExecutorOptions } from "./useLiteExecutor";
import {
  type FromThread,
  fromWire,
  ownedAdapter,
  packRows,
  type ToThread,
  unpackAnswers,
} from "./useLiteThreadMessages";

export class InferenceThreadError extends Error {
  constructor(
    message: string,
    readonly details: { exitCode?: number } = {},
  ) {
    super(message);
    this.name = "InferenceThreadError";
  }
}

const WORKER_ENTRY = new URL("./useLiteThread.worker.mjs", import.meta.url);
/** How long release() waits for the thread to finish its batches and close before ending it. */
const CLOSE_TIMEOUT_MS = 10_000;

interface PendingRun {
  worker: Worker;
  resolve(answers: Float32Array[]): void;
  reject(error: Error): void;
}

interface Started {
  worker: Worker;
  /** The executor's method once the thread serves; rejects if it cannot start. */
  ready: Promise<string>;
}

export class UseLiteThread implements AdapterSlots<PeftAdapter>, ServingBackend<number[]> {
  private thread: Worker | null = null;
  /** Each slot's adapter as last written, for a new thread. */
  private readonly resident: (PeftAdapter | undefined)[];
  private readonly pending = new Map<number, PendingRun>();
  private nextRun = 0;
  private closed = false;
  private executorMethod = "";

  private constructor(
    private readonly options: UseLiteExecutorOptions,
    private readonly tokenizer: UseLiteTokenizer,
  ) {
    this.resident = new Array(options.slots).fill(undefined);
  }

  /** Starts the thread and waits until it serves (rejecting with its error if it cannot). */
  static async create(options: UseLiteExecutorOptions): Promise<UseLiteThread> {
    // The vocabulary alone is kept here (the weights read with it are the thread's to hold).
    const tokenizer = new UseLiteTokenizer(readUseLiteSource(useLiteDirectory()).vocabulary);
    const thread = new UseLiteThread(options, tokenizer);
    const { worker, ready } = thread.start();
    worker.ref(); // until it serves: a caller awaiting create has nothing else holding the process
    try {
      thread.executorMethod = await ready;
    } catch (error) {
      await worker.terminate();
      throw error;
    } finally {
      worker.unref();
    }
    return thread;
  }

  /** The thread serving now, if one is (tests end it to check that nothing is lost). */
  get worker(): Worker | null {
    return this.thread;
  }

  get method(): string {
    return `${this.executorMethod}, on an inference thread`;
  }

  get slots(): number {
    return this.options.slots;
  }

  /** Text → token ids (the tokenizer cuts long texts to the model's 128 tokens). */
  prepare(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  decode(bytes: Uint8Array, adapterHash: Hex): PeftAdapter {
    return decodeUseLiteAdapter(bytes, adapterHash, this.options);
  }

  /** Holds a decoded adapter in `slot` (the thread gets it before any later run); returns its labels. */
  write(slot: number, adapter: PeftAdapter): readonly string[] {
    if (this.closed) throw new InferenceThreadError("the inference thread is closed");
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.options.slots) {
      throw new RangeError(`slot ${slot} is outside 0..${this.options.slots - 1}`);
    }
    const owned = ownedAdapter(adapter);
    this.resident[slot] = owned;
    // No thread now (it died): the next run starts one and writes every resident adapter first.
    this.thread?.postMessage({ op: "write", slot, adapter: owned } satisfies ToThread);
    return adapter.head?.labels ?? [];
  }

  load(slot: number, bytes: Uint8Array, adapterHash: Hex): readonly string[] {
    return this.write(slot, this.decode(bytes, adapterHash));
  }

  /** Each row's class probabilities or embedding, computed on the thread. */
  run(rows: readonly TokenRow[]): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new InferenceThreadError("the inference thread is closed"));
    const worker = this.thread ?? this.restart();
    const id = this.nextRun++;
    const packed = packRows(rows);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { worker, resolve, reject });
      worker.ref(); // answers are due
      worker.postMessage({ op: "run", id, rows: packed } satisfies ToThread, [
        packed.ids.buffer,
        packed.lengths.buffer,
        packed.slots.buffer,
      ]);
    });
  }

  /**
   * Ends the thread once the batches posted to it are answered. Not by terminating it: a thread
   * terminated inside session.run aborts the whole process (onnxruntime-node 1.30 throws a C++
   * exception as it hands back the outputs), so only a thread that does not close in time is.
   */
  async release(): Promise<void> {
    this.closed = true;
    const worker = this.thread;
    this.thread = null;
    this.resident.fill(undefined);
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    worker.ref();
    worker.postMessage({ op: "close" } satisfies ToThread);
    const late = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(late);
  }

  /** A new thread after one died, with every resident adapter written before anything else. */
  private restart(): Worker {
    const { worker, ready } = this.start();
    ready.catch(() => {}); // its runs fail with the reason (see start)
    this.resident.forEach((adapter, slot) => {
      if (adapter) worker.postMessage({ op: "write", slot, adapter } satisfies ToThread);
    });
    return worker;
  }

  private start(): Started {
    const worker = new Worker(WORKER_ENTRY, { workerData: this.options });
    this.thread = worker;
    worker.unref();
    const ready = new Promise<string>((resolve, reject) => {
      worker.on("message", (message: FromThread) => {
        if (message.op === "ready") resolve(message.method);
        else if (message.op === "failed") {
          const error = fromWire(message.error);
          reject(error);
          this.failRuns(
            worker,
            new InferenceThreadError(`the inference thread cannot start: ${error.message}`),
          );
        } else this.answer(message);
      });
      worker.on("error", (error) => {
        reject(error);
        this.failRuns(worker, new InferenceThreadError(`the inference thread failed: ${error.message}`));
      });
      worker.on("exit", (exitCode) => {
        if (this.thread === worker) this.thread = null;
        reject(new InferenceThreadError(`the inference thread exited (code ${exitCode})`, { exitCode }));
        const message = `the inference thread exited (code ${exitCode}) with this batch in it`;
        this.failRuns(worker, new InferenceThreadError(message, { exitCode }));
      });
    });
    return { worker, ready };
  }

  private answer(message: Extract<FromThread, { id: number }>): void {
    const run = this.pending.get(message.id);
    if (!run) return;
    this.settled(message.id, run.worker);
    if (message.op === "answers") run.resolve(unpackAnswers(message.answers));
    else run.reject(fromWire(message.error));
  }

  private settled(id: number, worker: Worker): void {
    this.pending.delete(id);
    for (const run of this.pending.values()) if (run.worker === worker) return;
    worker.unref(); // nothing due from it
  }

  /** Fails the runs that `worker` holds, and no other's. */
  private failRuns(worker: Worker, error: InferenceThreadError): void {
    if (this.thread === worker) this.thread = null;
    for (const [id, run] of this.pending) {
      if (run.worker !== worker) continue;
      this.pending.delete(id);
      run.reject(error);
    }
  }
}

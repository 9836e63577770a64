// The base alone as the benchmarks serve it: USE-lite without LoRA, rows padded to their token
// bucket as the runner's executor pads them (a lone row gets an empty second row), one run per
// bucket; on the calling thread (baseAloneHere) or on a worker thread of its own (BaseAloneThread,
// the counterpart of the runner's inference thread).
import { Worker } from "node:worker_threads";
import type * as ort from "onnxruntime-node";
import { USE_LITE } from "../ml/base/useLite/modules";
import { paddedBatch, runUseLite, useLiteBase } from "../ml/base/useLite/useLiteBase";
import { createSession } from "../ml/onnx/session";
import { tokenBucket } from "../runner/executor/useLiteExecutor";

export async function baseAloneRun(
  session: ort.InferenceSession,
  rows: readonly (readonly number[])[],
): Promise<Float32Array[]> {
  const byBucket = new Map<number, number[]>();
  rows.forEach((row, i) => {
    const bucket = tokenBucket(row.length);
    byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), i]);
  });
  const out = new Array<Float32Array>(rows.length);
  for (const [tokens, indices] of byBucket) {
    const group = indices.map((i) => rows[i] as number[]);
    if (group.length === 1) group.push([]);
    const embeddings = await runUseLite(session, paddedBatch(group, tokens));
    indices.forEach((row, j) => {
      out[row] = embeddings.slice(j * USE_LITE.outputDim, (j + 1) * USE_LITE.outputDim);
    });
  }
  return out;
}

const WORKER_ENTRY = new URL("./baseAlone.worker.mjs", import.meta.url);

/** What serves the base alone: on this thread or on a worker of its own. */
export interface BaseAlone {
  run(rows: readonly (readonly number[])[]): Promise<Float32Array[]>;
  release(): Promise<void>;
}

/** The base alone on this thread, one session. */
export async function baseAloneHere(threads: number): Promise<BaseAlone> {
  const session = await createSession(useLiteBase().onnx, threads);
  return { run: (rows) => baseAloneRun(session, rows), release: () => session.release() };
}

interface Pending {
  resolve(answers: Float32Array[]): void;
  reject(error: Error): void;
}

/** The base alone on a worker thread: run() posts the rows and resolves with their embeddings. */
export class BaseAloneThread implements BaseAlone {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  private constructor(private readonly worker: Worker) {
    worker.on("message", ({ id, answers }: { id: number; answers: Float32Array[] }) => {
      this.pending.get(id)?.resolve(answers);
      this.pending.delete(id);
    });
    // A thread that fails fails the batches it held, with its error, rather than leave them waiting.
    worker.on("error", (error) => this.failAll(error));
    worker.on("exit", (code) => this.failAll(new Error(`the base-alone thread exited (code ${code})`)));
  }

  static async create(threads: number): Promise<BaseAloneThread> {
    const worker = new Worker(WORKER_ENTRY, { workerData: { threads } });
    await new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
    });
    return new BaseAloneThread(worker);
  }

  run(rows: readonly (readonly number[])[]): Promise<Float32Array[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, rows });
    });
  }

  /**
   * Asks the thread to close once its batches are done (ending a worker inside a session's run
   * takes the whole process down with onnxruntime-node 1.30, see useLiteThread.ts).
   */
  async release(): Promise<void> {
    const exited = new Promise((resolve) => this.worker.once("exit", resolve));
    this.worker.postMessage({ close: true });
    await exited;
  }

  private failAll(error: Error): void {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}

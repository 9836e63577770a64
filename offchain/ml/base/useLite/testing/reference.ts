/** Runs the reference implementation (referenceWorker.mjs) on texts, in a worker thread. */
import { Worker } from "node:worker_threads";

export interface ReferenceResult {
  ids: number[][];
  embeddings?: number[][];
}

export function runReference(texts: readonly string[], embed: boolean): Promise<ReferenceResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./referenceWorker.mjs", import.meta.url), {
      workerData: { texts, embed },
    });
    worker.once("message", (result: ReferenceResult) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once("error", reject);
  });
}
